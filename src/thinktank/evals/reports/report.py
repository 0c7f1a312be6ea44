"""Reports of a run directory: ``report.md`` and a self-contained ``report.html``.

``write_report(dir)`` reads the run database and writes both files (and the plots
as ``plots/*.png`` for the Markdown). The HTML embeds everything — plots as base64
PNG, a little CSS and JS — and includes the trajectory viewer (:mod:`.viewer`).

Other kinds of runs plug in here: a run directory names its kind in ``run.json``
(``{"kind": "eval", ...}``; eval runs are also recognised by ``records.sqlite``),
and :func:`register_report_kind` maps a kind to its writer, so ``thinktank report``
renders, say, an optimizer's run directory with the optimizer's own writer.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktank.errors import UsageError
from thinktank.evals.reports.experiments import (
    Section,
    evaluated,
    experiment_sections,
    memory_line,
)
from thinktank.evals.reports.metrics import (
    GraphStats,
    fmt_ci,
    fmt_label,
    fmt_s,
    fmt_usd,
    graph_stats,
    oracle_label,
)
from thinktank.evals.reports.selection import HEADERS, NOTE, selection_rows
from thinktank.evals.runs.records import DB_NAME, RunDatabase
from thinktank.evals.runs.run_types import RunConfig, TaskRecord, group_causes
from thinktank.evals.runs.sweep import reads_memory

ReportWriter = Callable[..., list[Path]]
"""``writer(run_dir, **options) -> written paths``."""

_KINDS: dict[str, ReportWriter] = {}

PLOTS = {"accuracy_vs_cost": "cost", "accuracy_vs_samples": "samples"}


def register_report_kind(kind: str, writer: ReportWriter) -> None:
    """Make ``thinktank report DIR`` use ``writer`` for run directories of ``kind``."""
    _KINDS[kind] = writer


def run_kind(run_dir: str | Path) -> str:
    """The kind of run in a directory: ``run.json``'s ``kind``, else ``eval`` if it has records."""
    d = Path(run_dir)
    meta = d / "run.json"
    if meta.is_file():
        try:
            kind = json.loads(meta.read_text()).get("kind")
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {meta}: {exc}") from exc
        if isinstance(kind, str):
            return kind
    if (d / DB_NAME).is_file():
        return "eval"
    raise UsageError(
        f"{d} is not a run directory (no run.json or {DB_NAME}); pass the --out directory of "
        "`thinktank eval`"
    )


def write_report(run_dir: str | Path, **options: Any) -> list[Path]:
    """Write the report of any kind of run directory; returns the files written.

    Kinds other than ``eval`` register their writer when their package is imported
    (``import thinktank.optimize`` for optimizer runs; ``thinktank report`` does it)."""
    kind = run_kind(run_dir)
    if kind not in _KINDS:
        raise UsageError(
            f"no report writer for runs of kind {kind!r}; known kinds: {', '.join(sorted(_KINDS))}"
        )
    return _KINDS[kind](Path(run_dir), **options)


@dataclass
class ReportData:
    """What both renderings show."""

    run_dir: Path
    config: RunConfig
    records: list[TaskRecord]
    stats: list[GraphStats]
    sessions: list[dict[str, Any]]
    events: list[dict[str, Any]]
    tasks: list[tuple[str, str]] = field(default_factory=list)
    """(task id, kind) in suite order."""
    plots: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    spent_usd: float = 0.0
    """Spent by every session (results, retried results, interrupted jobs)."""
    sections: list[Section] = field(default_factory=list)
    """The experiment's own sections: memory split, ablation, run-to-run variance."""

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.stats]

    def notes(self) -> list[str]:
        """Plain warnings a reader must see: the run's own notes (``note`` events, e.g.
        that its model is simulated), then an incomplete run, errors, interruptions."""
        out = [str(e["text"]) for e in self.events if e.get("kind") == "note" and e.get("text")]
        c = self.config
        if c.oracle:
            out.append(
                "ORACLE memory: lessons were judged with the suite's own labels (--learn-judge "
                "oracle), so accuracy with memory is not what a deployment without labels gets; "
                "the default judge is the model itself."
            )
        last = self.sessions[-1] if self.sessions else None
        # a memory split's memory-off arms do not run the tasks learned on
        off = sum(g.memory_off for g in c.graphs)
        expected = len(self.tasks) * len(self.labels) - off * len(c.learn_tasks)
        if last and last.get("stop_reason") == "budget":
            out.append(
                "The last session stopped because the run budget was spent; resume with "
                "`thinktank eval ... --resume --budget-usd <more>` to finish."
            )
        how = {
            "cancelled": "was interrupted",
            "failed": "failed (see the command's output)",
            "running": "did not finish (killed?)",
        }
        if last and last.get("status") in how:
            out.append(f"The last session {how[last['status']]}; `--resume` continues it.")
        errors = sum(s.errors for s in self.stats)
        if errors:
            out.append(
                f"{errors} record(s) are errors (see the table); `--retry-errors` reruns them. "
                + _causes([r.error for r in self.records if r.status == "error"])
            )
        degraded = [r.error for r in self.records if r.status == "degraded"]
        if degraded:
            out.append(
                f"{len(degraded)} record(s) are degraded: their selection could not use its "
                "verifier, judge or fuser and fell back to a majority vote. " + _causes(degraded)
            )
        for st in self.stats:
            if st.truncated:
                out.append(
                    f"Graph {st.label}: {st.truncated} of {st.records - st.errors} task(s) were "
                    "truncated by the graph's own budget (samples refused), so its accuracy and "
                    "cost are those of a cut-down graph; raise `budget.max_usd` (or the call / "
                    "token limits) to measure the graph as specified."
                )
        if expected and len(self.records) < expected:
            out.append(f"{len(self.records)} of {expected} (task, graph) pairs have a record.")
        return out


def load_report_data(run_dir: str | Path, *, plots: bool = True) -> ReportData:
    """Read a run directory's records and compute the aggregates and plots."""
    with RunDatabase.open(run_dir) as db:
        config = db.config()
        records = db.records()
        sessions = db.sessions()
        events = db.events()
        spent = db.run_spent_usd(records)
    order = {g.label: i for i, g in enumerate(config.graphs)}
    records.sort(key=lambda r: (r.task_index, order.get(r.graph, len(order)), r.graph))
    stats = graph_stats(evaluated(records, config), config.graphs)
    if config.oracle:
        for st, g in zip(stats, config.graphs, strict=False):
            st.oracle = st.label == g.label and reads_memory(g.spec) and not g.memory_off
    seen: dict[str, str] = {}
    for r in records:
        seen.setdefault(r.task_id, r.kind)
    data = ReportData(
        Path(run_dir), config, records, stats, sessions, events, list(seen.items()), spent_usd=spent
    )
    data.sections = experiment_sections(records, config)
    if plots:
        from thinktank.evals.reports.plots import accuracy_plot

        for name, x in PLOTS.items():
            made = accuracy_plot(stats, x)
            if made is not None:
                data.plots[name] = made
    return data


def md_text(value: object, limit: int = 40) -> str:
    """Text safe in a Markdown table cell: one line, pipes and HTML escaped."""
    s = " ".join(str(value).split())[:limit]
    return html.escape(s, quote=False).replace("|", "\\|")


def _causes(errors: list[str | None]) -> str:
    """``Causes: 3× X; 1× Y.`` (the most frequent five)."""
    groups = group_causes(errors)
    shown = "; ".join(f"{n}× {cause}" for n, cause in groups[:5])
    more = f"; and {len(groups) - 5} more" if len(groups) > 5 else ""
    return f"Causes: {shown}{more}."


def _cell(r: TaskRecord | None) -> str:
    if r is None:
        return "·"
    if r.status == "error":
        return "error"
    mark = " (degraded)" if r.status == "degraded" else ""
    mark += " (truncated)" if r.truncated else ""
    return f"{'✓' if r.correct else '✗'} {md_text(r.answer or '—')}{mark}"


def _selection_md(data: ReportData) -> list[str]:
    rows = selection_rows((oracle_label(s), s.selection) for s in data.stats)
    if not rows:
        return []
    lines = ["", "## Selection", "", NOTE, ""]
    lines.append("| graph | " + " | ".join(HEADERS) + " |")
    lines.append("|---|" + "---|" * len(HEADERS))
    lines += [f"| {md_text(label, 200)} | " + " | ".join(c) + " |" for label, c in rows]
    return lines


def render_markdown(data: ReportData) -> str:
    """The Markdown report (plots linked as ``plots/*.png``)."""
    c = data.config
    lines = [
        f"# Eval report — {c.suite}",
        "",
        f"- run directory: `{data.run_dir}`",
        f"- tasks: {len(data.tasks)} · graphs: {len(data.labels)} · records: {len(data.records)}",
        f"- models: {', '.join(f'{k}={v}' for k, v in c.models.items()) or '—'}",
        f"- seed: {c.seed} · memory: {c.memory or 'off'}" + memory_line(c),
        f"- spent: {fmt_usd(data.spent_usd)} over {len(data.sessions)} session(s)"
        + (f"; run budget {fmt_usd(c.budget_usd)}" if c.budget_usd is not None else ""),
        "",
    ]
    lines += [f"> **Note:** {n}" for n in data.notes()]
    lines += [
        "",
        "## Summary",
        "",
        "| graph | accuracy [95% CI] | judged | errors | cost/task | total cost | tokens/task | samples/task | latency p50 | latency p95 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in data.stats:
        lines.append(
            f"| {md_text(fmt_label(s), 200)} | {fmt_ci(s)} | {s.judged} | {s.errors} | {fmt_usd(s.cost_mean)} | "
            f"{fmt_usd(s.cost_total)} | {s.tokens_mean:.0f} | {s.samples_mean:.1f} | "
            f"{fmt_s(s.latency_p50)} | {fmt_s(s.latency_p95)} |"
        )
    ks = sorted({k for s in data.stats for k in s.pass_at_k})
    if ks and max(ks) > 1:
        lines += ["", "## pass@k", "", "| graph | " + " | ".join(f"pass@{k}" for k in ks) + " |"]
        lines.append("|---|" + "---|" * len(ks))
        for s in data.stats:
            vals = [f"{s.pass_at_k[k]:.1%}" if k in s.pass_at_k else "–" for k in ks]
            lines.append(f"| {md_text(oracle_label(s), 200)} | " + " | ".join(vals) + " |")
    lines += _selection_md(data)
    for sec in data.sections:
        lines += ["", f"## {sec.title}", "", sec.note, ""]
        lines.append("| " + " | ".join(sec.headers) + " |")
        lines.append("|" + "---|" * len(sec.headers))
        lines += ["| " + " | ".join(md_text(c, 200) for c in row) + " |" for row in sec.rows]
    if data.plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{name}](plots/{name}.png)" for name in data.plots]
    by = {(r.task_id, r.graph): r for r in data.records}
    expected = {r.task_id: r.expected for r in data.records if r.expected}
    lines += [
        "",
        "## Tasks",
        "",
        "| task | kind | expected | "
        + " | ".join(md_text(oracle_label(s), 200) for s in data.stats)
        + " |",
    ]
    lines.append("|---|---|---|" + "---|" * len(data.labels))
    learned = set(data.config.learn_tasks)  # a memory split's learning part
    for tid, kind in data.tasks:
        cells = [_cell(by.get((tid, g))) for g in data.labels]
        exp = md_text(expected.get(tid) or "—")
        tag = " (learned on)" if tid in learned else ""
        lines.append(f"| {md_text(tid, 80)}{tag} | {kind} | {exp} | " + " | ".join(cells) + " |")
    lines += ["", "Trajectories: open `report.html` in a browser.", ""]
    return "\n".join(lines)


def _write(path: Path, content: str | bytes) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_eval_report(
    run_dir: str | Path, *, html: bool = True, max_trajectories: int = 300
) -> list[Path]:
    """Write ``report.md``, ``plots/*.png`` and (``html``) ``report.html`` for an eval run.

    ``max_trajectories`` bounds how many (task, graph) trajectories the HTML embeds
    (wrong and errored ones first); the per-task table always lists every record.
    """
    d = Path(run_dir)
    data = load_report_data(d)
    written = []
    if data.plots:
        (d / "plots").mkdir(exist_ok=True)
        for name, (png, _) in data.plots.items():
            written.append(_write(d / "plots" / f"{name}.png", png))
    written.append(_write(d / "report.md", render_markdown(data)))
    if html:
        from thinktank.evals.reports.html import render_html

        written.append(
            _write(d / "report.html", render_html(data, max_trajectories=max_trajectories))
        )
    return written


register_report_kind("eval", write_eval_report)
