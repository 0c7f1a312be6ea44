"""What a study produced: trial records, the best graph, the Pareto front, the files.

``write_outputs`` fills the output directory::

    best.yaml          the best graph (a GraphSpec; ``thinktank eval --graph best.yaml``)
    pareto.json        the accuracy–cost Pareto front of fully evaluated graphs
    pareto.png         accuracy vs cost of every evaluated graph, the front highlighted
    progress.png       best-so-far score vs evaluations and vs dollars spent
    search_log.jsonl   one line per trial (written as the search goes)
    study.json         the summary (algorithm, budget, spend, stop reason, best)
    run.json           ``{"kind": "optimize", ...}`` (``thinktank report`` dispatches on it)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thinktank.graphs.spec import GraphSpec

EVALUATED = frozenset({"complete", "cached"})
"""Statuses of trials scored on the whole dev set."""


class TrialRecord(BaseModel):
    """One proposal of the search and what became of it."""

    number: int
    """Optuna trial number."""
    index: int
    """Position in the search (proposals, rejected ones included)."""
    status: str
    """complete (evaluated now), cached (this graph was evaluated before), pruned,
    truncated (its per-task budget cut tasks short: shown, never ranked), rejected (not
    a valid graph), refused (the budget could not cover it), interrupted (the budget
    ran out during it)."""
    reason: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    key: str | None = None
    """Graph key (same key = same graph)."""
    name: str | None = None
    description: str = ""
    accuracy: float | None = None
    cost: float | None = None
    """Mean dollars per task."""
    score: float | None = None
    """accuracy - cost_weight * cost."""
    tasks: int = 0
    """Dev tasks the score is over."""
    fresh: int = 0
    """Tasks run for this trial (the rest came from the cache)."""
    spent: float = 0.0
    """Dollars this trial spent."""
    evaluation: int | None = None
    """1-based count of distinct graphs evaluated, when this trial evaluated a new one."""
    total_spent: float = 0.0
    """Study spend after this trial."""
    elapsed_s: float = 0.0
    spec: dict[str, Any] | None = None
    """The graph (JSON), for evaluated trials."""


def pareto_front(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Fully evaluated trials no other beats on both accuracy (higher) and cost (lower).

    One trial per graph; sorted by cost.
    """
    by_key: dict[str, TrialRecord] = {}
    for t in trials:
        if t.status in EVALUATED and t.key and t.accuracy is not None and t.key not in by_key:
            by_key[t.key] = t
    pts = sorted(by_key.values(), key=lambda t: (t.cost or 0.0, -(t.accuracy or 0.0)))
    front: list[TrialRecord] = []
    best_acc = float("-inf")
    for t in pts:
        if (t.accuracy or 0.0) > best_acc:
            front.append(t)
            best_acc = t.accuracy or 0.0
    return front


def best_trial(trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """Highest score over the whole dev set; ties go to the cheaper, then the earlier."""
    done = [t for t in trials if t.status in EVALUATED and t.score is not None]
    if not done:
        return None
    return min(done, key=lambda t: (-(t.score or 0.0), t.cost or 0.0, t.index))


class StudyResult(BaseModel):
    """The outcome of :meth:`thinktank.optimize.Study.run`."""

    name: str
    algo: str
    trials: list[TrialRecord]
    best: TrialRecord | None = None
    pareto: list[TrialRecord] = Field(default_factory=list)
    evaluations: int = 0
    """Distinct graphs evaluated."""
    spent_usd: float = 0.0
    """Everything the study spent (all sessions, crashed tasks at their worst case)."""
    budget_usd: float | None = None
    stop_reason: str = ""
    sessions: int = 1
    out_dir: str | None = None

    @property
    def best_spec(self) -> GraphSpec | None:
        if self.best is None or self.best.spec is None:
            return None
        return GraphSpec.model_validate(self.best.spec)

    def summary(self) -> dict[str, Any]:
        """study.json: everything but the trial list."""
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        best = self.best.model_dump(exclude={"spec"}) if self.best else None
        return {
            "kind": "optimize",
            "name": self.name,
            "algo": self.algo,
            "evaluations": self.evaluations,
            "trials": len(self.trials),
            "statuses": counts,
            "spent_usd": round(self.spent_usd, 8),
            "budget_usd": self.budget_usd,
            "stop_reason": self.stop_reason,
            "sessions": self.sessions,
            "best": best,
            "pareto": [t.model_dump(exclude={"spec"}) for t in self.pareto],
        }


def log_line(t: TrialRecord) -> str:
    """One search-log line (no spec: the log stays small)."""
    return json.dumps(t.model_dump(exclude={"spec"}), default=str)


def write_outputs(result: StudyResult, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write best.yaml, pareto.json, study.json, the search log and the plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    spec = result.best_spec
    if spec is not None:
        meta = dict(spec.metadata)
        opt = dict(meta.get("optimizer") or {})
        opt.update(
            algo=result.algo,
            study=result.name,
            accuracy=result.best.accuracy if result.best else None,
            cost_per_task=result.best.cost if result.best else None,
        )
        meta["optimizer"] = opt
        spec = spec.model_copy(update={"metadata": meta})
        spec.save(out / "best.yaml")
        written.append(out / "best.yaml")
    pareto = [{**t.model_dump(exclude={"spec"}), "spec": t.spec} for t in result.pareto]
    (out / "pareto.json").write_text(json.dumps(pareto, indent=2, default=str))
    (out / "study.json").write_text(json.dumps(result.summary(), indent=2, default=str))
    run = out / "run.json"  # how `thinktank report` recognises an optimizer run
    info = json.loads(run.read_text()) if run.is_file() else {}
    info.update(kind="optimize", name=result.name, algo=result.algo)
    run.write_text(json.dumps(info, indent=2, default=str))
    with (out / "search_log.jsonl").open("w") as fh:
        for t in result.trials:
            fh.write(log_line(t) + "\n")
    written += [out / "pareto.json", out / "study.json", out / "search_log.jsonl", run]
    if plots:
        from thinktank.optimize.plots import pareto_plot, progress_plot

        written.append(pareto_plot(result, out / "pareto.png"))
        written.append(progress_plot(result, out / "progress.png"))
    return written


def load_result(out_dir: str | Path) -> StudyResult:
    """A study's result read back from its output directory (study.json + search log)."""
    out = Path(out_dir)
    summary = json.loads((out / "study.json").read_text())
    trials = [
        TrialRecord.model_validate_json(line)
        for line in (out / "search_log.jsonl").read_text().splitlines()
        if line.strip()
    ]
    by_number = {t.number: t for t in trials}
    best = by_number.get(summary["best"]["number"]) if summary.get("best") else None
    if best is not None and (out / "best.yaml").is_file():
        best = best.model_copy(
            update={"spec": GraphSpec.load(out / "best.yaml").model_dump(mode="json")}
        )
    return StudyResult(
        name=summary["name"],
        algo=summary["algo"],
        trials=trials,
        best=best,
        pareto=[
            by_number[p["number"]] for p in summary.get("pareto", []) if p["number"] in by_number
        ],
        evaluations=summary.get("evaluations", 0),
        spent_usd=summary.get("spent_usd", 0.0),
        budget_usd=summary.get("budget_usd"),
        stop_reason=summary.get("stop_reason", ""),
        sessions=summary.get("sessions", 1),
        out_dir=str(out),
    )
