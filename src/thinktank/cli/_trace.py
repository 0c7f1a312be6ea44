"""A run's trace summary for the terminal (``thinktank run``): rich tables of what
each sample did (agents and function nodes alike: output or error, steps, tokens,
time), the candidates and how they were selected, the verifiers' verifications, the
CEO's decisions, and usage by node (a function node that calls no model at $0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    from thinktank.graphs.result import RunResult


def _short(value: Any, n: int = 60) -> str:
    s = "—" if value is None else " ".join(str(value).split())
    return escape(s if len(s) <= n else s[: n - 1] + "…")


def print_trace(
    res: RunResult, *, label: str = "", verdict: Any = None, console: Console | None = None
) -> None:
    """Print a :class:`~thinktank.graphs.result.RunResult` as a readable summary."""
    console = console or Console()
    totals = res.usage.totals
    ran = f"{res.samples} answer sample(s)"
    if res.samples_requested != res.samples:
        ran = f"{res.samples} of {res.samples_requested} answer samples ran"
    head = [
        f"[bold]answer:[/bold] {_short(res.answer, 200)}",
        f"status {escape(res.status)} · graph {escape(label or res.graph)} · {res.rounds} round(s) · "
        f"{ran} · {totals.calls} calls · "
        f"{totals.prompt_tokens}+{totals.completion_tokens} tokens · "
        f"${res.cost:.5f} · {res.latency_s:.2f}s",
    ]
    if verdict is not None:
        mark = "[green]correct[/green]" if verdict.correct else "[red]wrong[/red]"
        head.append(f"{mark} (expected {_short(verdict.expected)}; {escape(verdict.reason)})")
    if res.truncated:
        clipped = totals.clipped
        refused = (
            f"{res.refused} sample(s) refused" if res.refused else "no further sample could start"
        )
        head.append(
            f"[yellow]truncated by its budget:[/yellow] {refused}"
            + (f", {clipped} call(s) with max_tokens clipped" if clipped else "")
            + " — raise the graph's budget (budget.max_usd and its other limits) to run what "
            "the graph asks for"
        )
    if res.error:
        head.append(f"[red]error:[/red] {_short(res.error, 300)}")
    console.print(Panel("\n".join(head), title="thinktank run", expand=False))

    outputs = res.trace.outputs
    if outputs:
        t = Table(title="agents", show_lines=False)
        for h in (
            "sample",
            "role",
            "status",
            "answer / output",
            "steps",
            "tools",
            "tokens",
            "time",
        ):
            t.add_column(h)
        for o in outputs:
            traj = o.trajectory or {}
            steps = traj.get("steps") or []
            tools = [tc.get("name", "?") for s in steps for tc in s.get("tool_calls") or []]
            u = o.usage
            shown = o.answer if o.answer is not None else o.output
            if o.error:
                shown = f"error: {o.error}"
            t.add_row(
                escape(o.id),
                escape(o.role),
                escape(str(o.status)),
                _short(shown),
                str(len(steps)),
                escape(", ".join(tools)) or "—",
                str(int(u.get("prompt_tokens", 0)) + int(u.get("completion_tokens", 0))),
                f"{float(traj.get('duration_s') or 0.0):.2f}s",
            )
        console.print(t)
    if res.candidates:
        winner = res.selection.winner if res.selection else None
        method = res.selection.method if res.selection else "?"
        t = Table(title=f"candidates (selection: {escape(method)})")
        for h in ("candidate", "answer", "votes", "score", "approvals"):
            t.add_column(h)
        for c in res.candidates:
            star = " ★" if c.id == winner else ""
            score = "—" if c.score is None else f"{c.score:.2f}"
            t.add_row(escape(c.id) + star, _short(c.answer), str(c.votes), score, str(c.approvals))
        console.print(t)
    if res.verifications:
        t = Table(title="verifications")
        for h in ("verifier", "candidate", "verdict", "score"):
            t.add_column(h)
        for v in res.verifications:
            t.add_row(
                escape(v.verifier),
                escape(str(v.target)),
                escape("—" if v.verdict is None else str(v.verdict)),
                escape("—" if v.score is None else str(v.score)),
            )
        console.print(t)
    if res.usage.by_node:
        t = Table(title="usage by node")
        for h in ("node", "calls", "tokens", "cost"):
            t.add_column(h)
        for name, tot in res.usage.by_node.items():
            tokens = tot.prompt_tokens + tot.completion_tokens
            t.add_row(escape(name), str(tot.calls), str(tokens), f"${tot.cost_usd:.5f}")
        console.print(t)
    for d in res.decisions:
        rest = d.model_dump(exclude={"round", "action", "enforced"})
        console.print(f"[bold]CEO[/bold] round {d.round}: {escape(d.action)} {_short(rest, 160)}")
