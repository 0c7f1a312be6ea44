"""``thinktank report`` for optimizer runs: ``report.md`` and a self-contained ``report.html``.

An optimizer's output directory says ``{"kind": "optimize"}`` in ``run.json``; the
eval report module dispatches such directories here. The report shows the best
graph with its accuracy on the dev, confirmation and held-out tasks (intervals), how
the re-evaluation of the top candidates chose it, the accuracy–cost Pareto front
(dev intervals, held-out accuracy where measured), the best and worst trials, the
plots, and — when the study ran one (``--baseline N``, in ``OUT/baseline``) — random
search as the baseline: the evaluations and dollars each needed to reach the search's
best dev score.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from typing import Any

from thinktank.evals.reports.report import register_report_kind
from thinktank.optimize.plots import progress_points
from thinktank.optimize.results import (
    CANDIDATE_STATUSES,
    EVALUATED,
    SELECTION_STATUSES,
    Candidate,
    Evidence,
    Selection,
    StudyResult,
    TrialRecord,
    load_result,
)

BASELINE_DIR = "baseline"
_BOLD = re.compile(r"\*\*(.+?)\*\*")


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


def _acc(t: TrialRecord) -> str:
    """Dev accuracy with its interval when known."""
    if t.accuracy is None or t.accuracy_low is None or t.accuracy_high is None:
        return _pct(t.accuracy)
    return f"{t.accuracy:.1%} [{t.accuracy_low:.1%}, {t.accuracy_high:.1%}]"


def _ev(e: Evidence | None) -> str:
    return "–" if e is None else f"{e.accuracy.fmt()} ({e.tasks})"


def _held(c: Candidate | None) -> str:
    if c is None or c.holdout_status is None:
        return "–"
    if c.holdout is None:
        return c.holdout_status.replace("_", " ")
    return _ev(c.holdout) + ("" if c.holdout_status == "evaluated" else f" {c.holdout_status}")


def _table(trials: list[TrialRecord], selection: Selection | None = None) -> list[str]:
    """Trials with their dev accuracy (interval); with a selection, their held-out accuracy."""
    held = selection.by_key() if selection is not None else None
    head = "| trial | status | dev accuracy [interval] | cost/task | score |"
    rule = "|---|---|---|---|---|"
    if held is not None:
        head, rule = head + " held-out accuracy (tasks) |", rule + "---|"
    out = [head + " graph |", rule + "---|"]
    for t in trials:
        score = "–" if t.score is None else f"{t.score:.4f}"
        extra = f" {_held(held.get(t.key or ''))} |" if held is not None else ""
        out.append(
            f"| {t.number} | {t.status} | {_acc(t)} | {_usd(t.cost)} | {score} |{extra} "
            f"{_cell(t.description or t.reason or '')} |"
        )
    return out


def _best_lines(result: StudyResult) -> list[str]:
    """The best graph: its figures on each split, and how it was chosen."""
    b, sel = result.best, result.selection
    if b is None:
        return ["No graph was evaluated on the whole dev set."]
    lines = [f"`best.yaml` — {_cell(b.description)} (trial {b.number}, evaluation {b.evaluation})"]
    c = sel.best if sel is not None else None
    if c is None:  # a study written before the re-evaluation step existed
        return [
            *lines,
            "",
            f"accuracy {_pct(b.accuracy)} on {b.tasks} tasks, {_usd(b.cost)} per task, "
            f"score {b.score:.4f}",
        ]
    assert sel is not None
    lines += [
        "",
        f"| tasks | n | accuracy [{sel.confidence:.0%} interval] | score | cost/task |",
        "|---|---|---|---|---|",
    ]
    rows = [
        ("dev (searched on)", c.dev),
        ("confirmation", c.confirm),
        ("dev + confirmation (chosen on)", c.combined),
        ("held-out (after the choice, never used to choose)", c.holdout),
    ]
    for label, e in rows:
        if e is not None:
            lines.append(
                f"| {label} | {e.tasks} | {e.accuracy.fmt()} | {e.score.fmt(pct=False)} "
                f"| {_usd(e.cost)} |"
            )
    if c.estimate is not None:
        lines.append(
            f"| estimated score (every graph's evidence, the model's) | {c.estimate.n} | – "
            f"| {c.estimate.fmt(pct=False)} | {_usd(c.dev.cost)} |"
        )
    lines += ["", f"**Selection: {sel.status}** — {SELECTION_STATUSES.get(sel.status, '')}."]
    if sel.reason:
        lines.append(f"{sel.reason}.")
    lead = sel.candidate(sel.leader)
    if sel.changed and lead is not None and lead.combined and c.combined:
        lines.append(
            f"The dev leader (trial {lead.number}, {_cell(lead.description)}) scored "
            f"{lead.dev.accuracy.value:.1%} on the dev tasks but {lead.combined.accuracy.value:.1%} "
            f"on dev + confirmation, against {c.combined.accuracy.value:.1%} for the best "
            f"(paired difference {lead.vs_chosen.fmt(signed=True) if lead.vs_chosen else '–'})."
        )
    lines += ["", "### Held-out split", ""]
    if c.holdout is not None and sel.holdout_status == "evaluated":
        drop = c.holdout.accuracy.value - c.dev.accuracy.value
        inside = c.dev.accuracy.contains(c.holdout.accuracy.value)
        lines.append(
            f"{sel.holdout_tasks} tasks set aside before the search and run once by the chosen "
            f"graph: {c.holdout.accuracy.fmt()} against {c.dev.accuracy.fmt()} on the dev "
            f"tasks ({drop:+.1%}; the held-out accuracy is "
            + ("inside" if inside else "**outside**")
            + " the dev interval)."
        )
    elif sel.holdout_status == "no_tasks":
        lines.append(f"**No held-out split**: {sel.holdout_reason}.")
    else:
        lines.append(
            f"**The held-out run did not happen ({sel.holdout_status})**: "
            f"{sel.holdout_reason or 'the budget ran out'}."
        )
    return lines


def _candidates(sel: Selection) -> list[str]:
    if not sel.candidates:
        return []
    out = [
        "",
        f"## Top candidates re-evaluated (top {sel.top_k}, {sel.confirm_tasks} confirmation tasks)",
        "",
        f"The re-evaluation's tasks cost ${sel.cost_usd:.5f}, the held-out runs "
        f"${sel.holdout_cost_usd:.5f} (both within the study's budget and spend). "
        "Paired differences are per task on the same tasks, this graph minus the chosen one.",
        "",
        _ranking(sel),
        "",
        "| rank | trial | status | estimated score | dev | confirmation | dev + confirmation "
        "| vs chosen (score) | held-out | graph |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in sel.candidates:
        mark = " ★" if x.number == sel.chosen else ""
        est = x.estimate.fmt(pct=False) if x.estimate else "–"
        out.append(
            f"| {x.rank}{mark} | {x.number} | {x.status} | {est} | {_ev(x.dev)} "
            f"| {_ev(x.confirm)} | {_ev(x.combined)} "
            f"| {x.vs_chosen.fmt(pct=False, signed=True) if x.vs_chosen else '–'} "
            f"| {_held(x)} | {_cell(x.description)} |"
        )
    notes = [x for x in sel.candidates if x.reason or (x.holdout_reason and x.holdout is None)]
    if notes:
        out.append("")
        for x in notes:
            why = x.reason or CANDIDATE_STATUSES.get(x.status, "")
            held = (
                f" Held-out: {x.holdout_reason}." if x.holdout_reason and x.holdout is None else ""
            )
            out.append(f"- rank {x.rank} ({x.status}): {why}.{held}")
    return out


def _ranking(sel: Selection) -> str:
    if sel.ranking != "estimate":
        return (
            "Candidates are ranked by dev score (`incumbent: dev`): the highest is an "
            "optimistic pick, the more so the more graphs were tried."
        )
    lead = sel.candidate(sel.leader)
    extra = ""
    if sel.leader is not None and sel.leader != sel.incumbent:
        extra = (
            f" The best dev score (trial {sel.leader}) is "
            + ("ranked lower" if lead is not None else "not among them")
            + ": its neighbours did not bear it out."
        )
    return (
        "Candidates are ranked by estimate: each graph's estimated score is its posterior "
        "accuracy (a model of all the graphs evaluated that borrows strength from similar "
        "ones, so a lucky dev score is shrunk toward its neighbours') less the cost term, "
        f"with a {sel.confidence:.0%} interval; once confirmed, on its dev and confirmation "
        "tasks together." + extra
    )


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
    lines += _best_lines(result)
    if result.selection is not None:
        lines += _candidates(result.selection)
    b = result.search_best  # the search's own best: what the baseline is compared with
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
            f"To reach the search's best dev score {b.score:.4f}: {result.algo} needed {ev} evaluations "
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
    lines += [
        "",
        "## Pareto front (accuracy vs cost per task)",
        "",
        *_table(result.pareto, result.selection),
    ]
    front = {t.key for t in result.pareto}
    if result.best is not None and result.best.key not in front:
        lines += [
            "",
            "The declared best is not on the dev front (a graph there did better on the dev "
            "tasks and worse once re-evaluated):",
            "",
            *_table([result.best], result.selection),
        ]
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
            text = _BOLD.sub(r"<b>\1</b>", html.escape(line))
            body.append(f"<pre>{text}</pre>")
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
    target = result.search_best
    if baseline is not None and target is not None:
        from thinktank.optimize.plots import comparison_plot

        runs = [(result.algo, result), ("random search (baseline)", baseline)]
        comparison_plot(runs, d / "comparison.png", target=target.score)
    md = render_markdown(result, baseline)
    written = [_write(d / "report.md", md)]
    if html:
        written.append(_write(d / "report.html", render_html(md, d)))
    return written


register_report_kind("optimize", write_optimize_report)
