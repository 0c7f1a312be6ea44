"""The trajectory viewer of the HTML report: one collapsible section per (task, graph).

Each section shows the run's outcome (answer, expected, verdict, status, cost,
tokens, latency), its candidates, the verifiers' verifications, the CEO's decisions, and
every agent sample with its messages, tool calls and tool results and its usage,
then the scheduler's events and the usage by node and model. Plain HTML
``<details>`` elements collapse without script; everything is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from thinktank.evals.reports.metrics import fmt_s
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.graphs.result import RunResult, RunUsage
from thinktank.graphs.state import NodeOutput

MAX_TEXT = 8000
"""Characters of one message shown before it is cut (the rest is counted)."""


def _text(value: Any, limit: int = MAX_TEXT, *, compact: bool = False) -> str:
    if value is None:
        return ""
    indent = None if compact else 1
    s = value if isinstance(value, str) else json.dumps(value, indent=indent, default=str)
    if len(s) > limit:
        s = s[:limit] + f"\n… ({len(s) - limit} more characters)"
    return escape(s)


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fold(title: str, body: str, cls: str, *, open_: bool = False) -> str:
    return (
        f'<details class="{cls}"{" open" if open_ else ""}><summary>{title}</summary>'
        f'<div class="inner">{body}</div></details>'
    )


def badge(rec: TaskRecord) -> str:
    """The ✓ / ✗ / error badge of a record (``degraded`` ones carry a marked title)."""
    if rec.status == "error":
        return '<span class="badge err" title="error">!</span>'
    tag = " (degraded: selection fell back to a vote)" if rec.status == "degraded" else ""
    star = "*" if tag else ""
    if rec.correct:
        return f'<span class="badge ok" title="correct{tag}">✓{star}</span>'
    return f'<span class="badge bad" title="wrong{tag}">✗{star}</span>'


def _message(m: Mapping[str, Any]) -> str:
    role = str(m.get("role", "?"))
    parts = [f'<div class="msg {escape(role)}"><div class="who">{escape(role)}</div>']
    content = m.get("content")
    if isinstance(content, list):  # multi-part content
        content = "\n".join(
            str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in content
        )
    if content:
        parts.append(f"<pre>{_text(content)}</pre>")
    for call in m.get("tool_calls") or []:
        fn = call.get("function") or {}
        parts.append(
            f'<div class="call">→ <b>{escape(str(fn.get("name", "?")))}</b>'
            f"<pre>{_text(fn.get('arguments'), 2000)}</pre></div>"
        )
    if role == "tool" and m.get("tool_call_id"):
        parts.insert(1, f'<div class="ref">result of {escape(str(m["tool_call_id"]))}</div>')
    parts.append("</div>")
    return "".join(parts)


def _steps(steps: list[dict[str, Any]]) -> str:
    rows = []
    for s in steps:
        u = s.get("usage") or {}
        tools = ", ".join(
            escape(str(t.get("name"))) + (" (error)" if t.get("is_error") else "")
            for t in s.get("tool_calls") or []
        )
        rows.append(
            [
                s.get("index", ""),
                escape(str(s.get("finish_reason", ""))),
                u.get("prompt_tokens", 0),
                u.get("completion_tokens", 0),
                tools or "—",
                fmt_s(s.get("duration_s")),
            ]
        )
    return _table(
        ["step", "finish", "prompt tok", "completion tok", "tools", "time"], rows, "steps"
    )


def _agent(o: NodeOutput, winner: str | None) -> str:
    traj = o.trajectory or {}
    tokens = o.usage.get("prompt_tokens", 0) + o.usage.get("completion_tokens", 0)
    bits = [
        f"<b>{escape(o.id)}</b>",
        escape(o.role),
        f"model {escape(str(traj.get('model', '?')))}",
        escape(str(o.status)),
    ]
    if o.answer is not None:
        bits.append(f"answer <code>{_text(o.answer, 120)}</code>")
    if o.target:
        bits.append(f"on {escape(o.target)}")
    bits.append(f"{tokens} tok")
    if traj.get("duration_s") is not None:
        bits.append(fmt_s(traj.get("duration_s")))
    if o.id == winner:
        bits.append('<span class="win">winner</span>')
    body = []
    if o.error:
        body.append(f'<p class="error">{_text(o.error, 2000)}</p>')
    msgs = traj.get("messages") or []
    body += [_message(m) for m in msgs]
    if not msgs and o.output is not None:
        body.append(f"<pre>{_text(o.output)}</pre>")
    if traj.get("steps"):
        body.append(_steps(traj["steps"]))
    return _fold(" · ".join(bits), "".join(body), f"agent role-{escape(o.role)}")


def _usage(usage: RunUsage) -> str:
    rows = [
        [
            escape(group),
            escape(name),
            t.calls,
            t.prompt_tokens,
            t.completion_tokens,
            f"${t.cost_usd:.5f}",
        ]
        for group, totals in (("node", usage.by_node), ("model", usage.by_model))
        for name, t in totals.items()
    ]
    return _table(["by", "name", "calls", "prompt tok", "completion tok", "cost"], rows, "usage")


def render_run(anchor: str, rec: TaskRecord, result: RunResult | None) -> str:
    """One (task, graph) section of the viewer (``result``: ``None`` when the graph
    never finished)."""
    sel = result.selection if result else None
    winner = sel.winner if sel else None
    search = " ".join(str(x) for x in (rec.task_id, rec.graph, rec.answer or "", rec.status))
    cls = "err" if rec.status == "error" else ("ok" if rec.correct else "bad")
    head = (
        f"{badge(rec)} <b>{escape(rec.task_id)}</b> · {escape(rec.graph)} · answer "
        f"<code>{_text(rec.answer or '—', 80)}</code> · expected <code>{_text(rec.expected or '—', 80)}</code>"
        f' <span class="dim">· {escape(rec.status)} · ${rec.cost:.5f} · {rec.tokens} tok · '
        f"{fmt_s(rec.latency_s)} · {rec.samples} sample{'' if rec.samples == 1 else 's'}</span>"
    )
    facts = [
        ("status", rec.status),
        ("verdict", rec.reason or "—"),
        ("selection", f"{sel.method if sel else '—'} → {winner or '—'}"),
        ("rounds", result.rounds if result else "—"),
        ("calls", rec.calls),
        ("attempt", rec.attempt),
    ]
    parts = ['<dl class="facts">']
    parts += [f"<dt>{escape(k)}</dt><dd>{_text(v, 500)}</dd>" for k, v in facts]
    parts.append("</dl>")
    if rec.error:
        parts.append(f'<p class="error">{_text(rec.error, 4000)}</p>')
    if result is None:
        return _section(anchor, cls, search, head, parts)
    if result.candidates:
        rows = [
            [
                escape(c.id) + (' <span class="win">winner</span>' if c.id == winner else ""),
                f"<code>{_text(c.answer, 200)}</code>",
                c.votes,
                "—" if c.score is None else f"{c.score:.2f}",
                c.approvals,
            ]
            for c in result.candidates
        ]
        parts.append(
            _fold(
                f"Candidates ({len(rows)})",
                _table(["id", "answer", "votes", "score", "approvals"], rows),
                "candidates",
                open_=True,
            )
        )
    if result.verifications:
        rows = [
            [
                escape(v.verifier),
                escape(str(v.target)),
                escape("—" if v.verdict is None else str(v.verdict)),
                escape("—" if v.score is None else str(v.score)),
                _text(v.rationale, 600),
            ]
            for v in result.verifications
        ]
        parts.append(
            _fold(
                f"Verifications ({len(rows)})",
                _table(["verifier", "candidate", "verdict", "score", "rationale"], rows),
                "verdicts",
            )
        )
    if result.decisions:
        rows = [
            [
                escape(str(d.round)),
                escape(d.action),
                f"<code>{_text(d.model_dump(exclude={'round', 'action'}), 3000, compact=True)}</code>",
            ]
            for d in result.decisions
        ]
        parts.append(
            _fold(
                f"CEO decisions ({len(rows)})",
                _table(["round", "action", "details"], rows),
                "decisions",
                open_=True,
            )
        )
    outputs = result.trace.outputs
    if outputs:
        agents = "".join(_agent(o, winner) for o in outputs)
        parts.append(_fold(f"Agents ({len(outputs)} samples)", agents, "agents", open_=True))
    events = [e.model_dump(exclude_none=True, mode="json") for e in result.trace.events]
    if events:
        items = "".join(f"<li><code>{_text(e, 400)}</code></li>" for e in events)
        parts.append(_fold(f"Events ({len(events)})", f"<ol>{items}</ol>", "events"))
    if result.usage.totals.calls or result.usage.by_node:
        parts.append(_fold("Usage", _usage(result.usage), "usage-box"))
    if result.budget is not None:
        budget = result.budget.model_dump(mode="json")
        parts.append(_fold("Budget", f"<pre>{_text(budget)}</pre>", "budget"))
    return _section(anchor, cls, search, head, parts)


def _section(anchor: str, cls: str, search: str, head: str, parts: list[str]) -> str:
    return (
        f'<details class="run {cls}" id="{escape(anchor)}" data-search="{escape(search.lower())}">'
        f'<summary>{head}</summary><div class="body">{"".join(parts)}</div></details>'
    )
