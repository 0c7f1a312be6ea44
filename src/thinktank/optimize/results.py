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
from thinktank.optimize.stats import Interval

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
    accuracy_low: float | None = None
    """Lower end of the accuracy's interval over the dev tasks scored (Wilson; a bootstrap
    for partial credit)."""
    accuracy_high: float | None = None
    """Upper end of that interval."""
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
    estimate: float | None = None
    """This graph's estimated score after this trial: its posterior accuracy (a model that
    borrows strength from similar graphs, :mod:`thinktank.optimize.estimate`) less the
    cost term; ``None`` with ``incumbent: dev`` or for a graph not evaluated."""
    incumbent: int | None = None
    """The trial number of the search's incumbent after this trial: the fully evaluated
    graph the study would declare now (best estimate; best dev score with ``incumbent:
    dev``)."""
    incumbent_estimate: float | None = None
    """The incumbent's estimated score after this trial."""


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


class Evidence(BaseModel):
    """A graph's figures on one set of tasks."""

    tasks: int
    accuracy: Interval
    score: Interval
    """``accuracy - cost_weight * cost``."""
    cost: float
    """Mean dollars per task."""


CANDIDATE_STATUSES = {
    "confirmed": "re-evaluated on the confirmation tasks",
    "excluded": "not re-evaluated: its dev interval lies below the incumbent's",
    "truncated": "its per-task budget cut a confirmation task short: not ranked",
    "refused": "not re-evaluated: the budget left could not cover it",
    "interrupted": "the budget ran out during its re-evaluation",
    "not_run": "not re-evaluated: the budget ran out before it",
    "dev_only": "not re-evaluated (no confirmation step)",
}


class Candidate(BaseModel):
    """One of the top graphs by dev score and what the steps after the search found."""

    number: int
    """Its trial (the first that evaluated it on the whole dev set)."""
    key: str
    description: str = ""
    rank: int
    """Its place by the selection's ranking (1: the search's incumbent): by estimated score,
    or by dev score with ``incumbent: dev``. The dev leader, when the estimate ranked it
    below the top ``top_k``, comes last (``top_k + 1``): its re-evaluation checks that."""
    status: str = "dev_only"
    """See :data:`CANDIDATE_STATUSES`."""
    reason: str | None = None
    dev: Evidence
    estimate: Interval | None = None
    """Its estimated score (posterior mean, interval ± z·sd; ``n``: the tasks it is
    over): on the dev tasks, or on dev + confirmation once confirmed (what the best is
    then chosen by). ``None`` with ``incumbent: dev``."""
    confirm: Evidence | None = None
    """On the confirmation tasks."""
    combined: Evidence | None = None
    """On the dev and confirmation tasks together: what the best is chosen on."""
    vs_chosen: Interval | None = None
    """Its score minus the chosen graph's, per task on the tasks both ran (paired)."""
    holdout: Evidence | None = None
    """On the held-out tasks (after the choice; never used to choose)."""
    holdout_status: str | None = None
    """evaluated, truncated, refused, interrupted or not_run (``None``: not a candidate for
    it)."""
    holdout_reason: str | None = None


SELECTION_STATUSES = {
    "confirmed": "every candidate was re-evaluated; the best is chosen on all their tasks",
    "partial": "the budget cut the re-evaluation short: the best is chosen among the "
    "candidates re-evaluated",
    "incomplete": "the budget did not allow re-evaluating the search's incumbent: it is the "
    "best unconfirmed",
    "no_tasks": "no confirmation tasks: the best is the search's incumbent",
    "off": "re-evaluation turned off (top_k 0): the best is the search's incumbent",
    "none": "no graph was evaluated on the whole dev set",
}


class Selection(BaseModel):
    """How the best graph was declared: the top candidates re-evaluated on more tasks,
    the choice on the combined evidence, then the held-out check."""

    status: str
    """See :data:`SELECTION_STATUSES`."""
    reason: str = ""
    top_k: int = 0
    confidence: float = 0.95
    dev_tasks: int = 0
    confirm_tasks: int = 0
    holdout_tasks: int = 0
    ranking: str = "dev"
    """What the candidates are ranked by: ``estimate`` (the posterior score, noise-aware)
    or ``dev`` (the raw dev score)."""
    leader: int | None = None
    """Trial number of the dev leader (the best dev score; with ranking ``estimate`` it may
    not be a candidate: its dev score was shrunk below theirs)."""
    incumbent: int | None = None
    """Trial number of the search's incumbent: the first candidate (the best estimate, or
    the dev leader with ranking ``dev``)."""
    chosen: int | None = None
    """Trial number of the declared best."""
    cost_usd: float = 0.0
    """What the re-evaluation's tasks cost (those a resumed session found in the cache
    counted at what they cost when they ran); part of the study's spend."""
    holdout_status: str = "no_tasks"
    """evaluated (the best was run on the held-out tasks), no_tasks, refused or
    interrupted (by the budget), none (no best)."""
    holdout_reason: str = ""
    holdout_cost_usd: float = 0.0
    """The same for the held-out runs."""
    candidates: list[Candidate] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        """The declared best is not the dev leader (the estimate or the re-evaluation chose
        another graph)."""
        return self.chosen is not None and self.chosen != self.leader

    def candidate(self, number: int | None) -> Candidate | None:
        return next((c for c in self.candidates if c.number == number), None)

    def by_key(self) -> dict[str, Candidate]:
        return {c.key: c for c in self.candidates}

    @property
    def best(self) -> Candidate | None:
        return self.candidate(self.chosen)


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
    selection: Selection | None = None
    """How the best was declared: re-evaluation of the top candidates, held-out check."""

    @property
    def search_best(self) -> TrialRecord | None:
        """The best on the dev set alone (what the search found; ``best`` is what the
        re-evaluation chose)."""
        return best_trial(self.trials)

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
            "selection": self.selection.model_dump(mode="json") if self.selection else None,
        }


def _figures(e: Evidence) -> dict[str, Any]:
    """An accuracy with its interval, as written to best.yaml and pareto.json."""
    a = e.accuracy
    return {"accuracy": a.value, "low": a.low, "high": a.high, "tasks": e.tasks}


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
        chosen = result.selection.best if result.selection else None
        if chosen is not None:
            opt["selection"] = result.selection.status if result.selection else None
            for split in ("dev", "combined", "holdout"):
                e = getattr(chosen, split)
                if e is not None:
                    opt[f"{split}_accuracy"] = _figures(e)
        meta["optimizer"] = opt
        spec = spec.model_copy(update={"metadata": meta})
        spec.save(out / "best.yaml")
        written.append(out / "best.yaml")
    held = result.selection.by_key() if result.selection else {}

    def point(t: TrialRecord) -> dict[str, Any]:
        c = held.get(t.key or "")
        h = _figures(c.holdout) if c is not None and c.holdout is not None else None
        return {**t.model_dump(exclude={"spec"}), "holdout": h, "spec": t.spec}

    pareto = [point(t) for t in result.pareto]
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
        selection=Selection.model_validate(summary["selection"])
        if summary.get("selection")
        else None,
    )
