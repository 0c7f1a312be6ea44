"""``thinktank report`` for optimizer runs: ``report.md`` and a self-contained ``report.html``.

An optimizer's output directory says ``{"kind": "optimize"}`` in ``run.json``; the
eval report module dispatches such directories here. The report shows the best
graph, the accuracy–cost Pareto front, the best and worst trials, the plots, and —
when the study ran one (``--baseline N``, in ``OUT/baseline``) — random search as the
baseline: the evaluations and dollars each needed to reach the final best score.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

from thinktank.evals.reports.report import register_report_kind
from thinktank.optimize.plots import progress_points
from thinktank.optimize.results import EVALUATED, StudyResult, TrialRecord, load_result

BASELINE_DIR = "baseline"


def _usd(x: float | None) -> str:
    return "–" if x is None else f"${x:.5f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def reach(result: StudyResult, target: float) -> tuple[int | None, float | None]:
    """Evaluations a study needed until its best-so-far score reached ``target``, and what
    those evaluations cost (as if nothing had been cached)."""
    for ev, _, worth, best in progress_points(result.trials):
        if best >= target - 1e-12:
            return ev, worth
    return None, None


def _table(trials: list[TrialRecord]) -> list[str]:
    out = ["| trial | status | accuracy | cost/task | score | graph |", "|---|---|---|---|---|---|"]
    for t in trials:
        score = "–" if t.score is None else f"{t.score:.4f}"
        out.append(
            f"| {t.number} | {t.status} | {_pct(t.accuracy)} | {_usd(t.cost)} | {score} "
            f"| {_cell(t.description or t.reason or '')} |"
        )
    return out


def render_markdown(result: StudyResult, baseline: StudyResult | None) -> str:
    lines = [f"# Optimizer run: {result.name} ({result.algo})", ""]
    lines += [
        f"- evaluations: {result.evaluations} distinct graphs in {len(result.trials)} proposals",
        f"- spent: {_usd(result.spent_usd)}"
        + (f" of ${result.budget_usd:g}" if result.budget_usd is not None else ""),
        f"- stopped: {result.stop_reason}; sessions: {result.sessions}",
        "",
        "## Best graph",
        "",
    ]
    b = result.best
    if b is None:
        lines.append("No graph was evaluated on the whole dev set.")
    else:
        lines += [
            f"`best.yaml` — {_cell(b.description)}",
            "",
            f"accuracy {_pct(b.accuracy)} on {b.tasks} tasks, {_usd(b.cost)} per task, "
            f"score {b.score:.4f} (trial {b.number}, evaluation {b.evaluation})",
        ]
    lines += ["", "## Random-search baseline", ""]
    if baseline is None or b is None or b.score is None:
        lines.append(
            "No baseline in this run (`thinktank optimize ... --baseline N` runs N random-search "
            "evaluations next to the search)."
        )
    else:
        ev, usd = reach(result, b.score)
        bev, busd = reach(baseline, b.score)
        bb = baseline.best
        lines += [
            f"To reach the final best score {b.score:.4f}: {result.algo} needed {ev} evaluations "
            f"(graphs costing {_usd(usd)} to evaluate); random search "
            + (
                f"needed {bev} ({_usd(busd)})"
                if bev is not None
                else f"did not reach it in {baseline.evaluations} evaluations"
            )
            + (f", its best: {_pct(bb.accuracy)} at {_usd(bb.cost)} per task" if bb else "")
            + ".",
            "",
            "![Search vs random search](comparison.png)",
        ]
    cut = [t for t in result.trials if t.status == "truncated" and t.evaluation is not None]
    if cut:
        lines += [
            "",
            "## Truncated graphs (not ranked)",
            "",
            f"{len(cut)} graph(s) could not run as specified within their per-task budget "
            "(`constraints.max_cost_per_task`): a budget refused some of their samples, so "
            "what they scored is that of a cut-down graph. They are left out of the best "
            "graph and the Pareto front; raise the constraint to evaluate them.",
            "",
            *_table(cut),
        ]
    lines += ["", "## Pareto front (accuracy vs cost per task)", "", *_table(result.pareto)]
    done = sorted(
        (t for t in result.trials if t.status in EVALUATED and t.evaluation is not None),
        key=lambda t: -(t.score or 0.0),
    )
    lines += ["", "## Top graphs", "", *_table(done[:10])]
    if len(done) > 10:
        lines += ["", "## Bottom graphs", "", *_table(done[-5:])]
    lines += ["", "![Pareto front](pareto.png)", "", "![Search progress](progress.png)", ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def render_html(markdown: str, run_dir: Path) -> str:
    """A minimal self-contained page: the Markdown as preformatted text, plots inlined."""
    body = []
    for line in markdown.splitlines():
        if line.startswith("![") and "](" in line:
            name = line.split("](", 1)[1].rstrip(")")
            p = run_dir / name
            if p.is_file():
                data = base64.b64encode(p.read_bytes()).decode()
                body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            body.append(f"<pre>{html.escape(line)}</pre>")
    style = "body{font-family:sans-serif;max-width:70em;margin:2em auto}pre{margin:0}img{max-width:100%}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>optimizer report</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


def write_optimize_report(run_dir: str | Path, *, html: bool = True, **_: Any) -> list[Path]:
    """Write ``report.md`` (and ``report.html``) for an optimizer output directory."""
    d = Path(run_dir)
    result = load_result(d)
    base_dir = d / BASELINE_DIR
    baseline = load_result(base_dir) if (base_dir / "study.json").is_file() else None
    if baseline is not None and result.best is not None:
        from thinktank.optimize.plots import comparison_plot

        runs = [(result.algo, result), ("random search (baseline)", baseline)]
        comparison_plot(runs, d / "comparison.png", target=result.best.score)
    md = render_markdown(result, baseline)
    written = [_write(d / "report.md", md)]
    if html:
        written.append(_write(d / "report.html", render_html(md, d)))
    return written


register_report_kind("optimize", write_optimize_report)
