"""One evaluation of a candidate graph: cached tasks reused, the rest run on rungs.

Tasks are run on growing prefixes of the (shuffled) dev set — the successive-
halving rungs — and a ``prune`` callback decides after each rung whether to stop.
Before a rung runs, its predicted cost is checked against what the budget has left
(an evaluation that would not fit is refused before it spends anything); while it
runs, every model call reserves on the optimizer's budget, which refuses what
would pass the limit (the task is then *interrupted*: not cached, the study stops).

An evaluation in which the graph's own per-task budget cut a task short (samples
refused: ``constraints.max_cost_per_task`` too small for the graph) ends
``truncated`` at that rung: its accuracy and cost are of a cut-down graph, so it is
recorded and shown but never ranked, and no more tasks are spent on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.optimize.costs import CostEstimator
from thinktank.optimize.objective import INTERRUPTED, Objective, TaskOutcome
from thinktank.optimize.stats import Interval, accuracy_interval
from thinktank.optimize.store import EvalStore, task_key


@dataclass
class Evaluation:
    """What evaluating one graph gave."""

    status: str
    """complete, pruned, truncated, refused or interrupted."""
    reason: str | None = None
    accuracy: float | None = None
    cost: float | None = None
    """Mean dollars per task."""
    score: float | None = None
    tasks: int = 0
    fresh: int = 0
    spent: float = 0.0
    truncated: int = 0
    """Tasks the graph's own budget cut short (the evaluation is then ``truncated``)."""
    errors: list[str] = field(default_factory=list)
    """Errors of tasks that failed before their graph finished (endpoint down, bad model)."""
    interval: Interval | None = None
    """The accuracy's interval over the tasks scored (the study's confidence)."""
    outcomes: dict[str, TaskOutcome] = field(default_factory=dict)
    """The outcomes scored, by task key (cached or fresh)."""


class Evaluations:
    """Runs evaluations for one study (its store, tasks, seed, budget and estimator)."""

    def __init__(
        self,
        evaluator: Objective,
        store: EvalStore,
        study_id: str,
        tasks: Sequence[Task],
        *,
        seed: int,
        estimator: CostEstimator,
        concurrency: int,
        cost_weight: float,
        budget_usd: float | None,
        metric: str = "correct",
        confidence: float = 0.95,
    ) -> None:
        self.evaluator = evaluator
        self.store = store
        self.study_id = study_id
        self.tasks = list(tasks)
        self.keys = [task_key(t) for t in self.tasks]
        self.seed = seed
        self.estimator = estimator
        self.concurrency = concurrency
        self.cost_weight = cost_weight
        self.budget_usd = budget_usd
        self.metric = metric
        self.confidence = confidence
        self.reserve = 0.0
        """Dollars kept back for later steps (the top candidates' re-evaluation, the held-out
        run): an evaluation that would eat into them is refused."""

    def for_tasks(self, tasks: Sequence[Task]) -> Evaluations:
        """The same study's evaluations on other tasks (its store, seed, budget, estimator)."""
        return Evaluations(
            self.evaluator,
            self.store,
            self.study_id,
            tasks,
            seed=self.seed,
            estimator=self.estimator,
            concurrency=self.concurrency,
            cost_weight=self.cost_weight,
            budget_usd=self.budget_usd,
            metric=self.metric,
            confidence=self.confidence,
        )

    def remaining(self) -> float | None:
        """Dollars left (``None``: no budget)."""
        if self.budget_usd is None:
            return None
        return self.budget_usd - self.store.spent(self.study_id)

    def available(self) -> float | None:
        """Dollars this evaluation may spend: what is left less the reserve (``None``: no
        budget)."""
        left = self.remaining()
        return None if left is None else left - self.reserve

    def credit(self, outcome: TaskOutcome) -> float:
        """A task's accuracy credit: right or wrong, or the verdict's score (``metric``)."""
        return outcome.score if self.metric == "score" else float(outcome.correct)

    def score(self, accuracy: float, cost: float) -> float:
        return accuracy - self.cost_weight * cost

    def fully_cached(self, gkey: str) -> bool:
        return len(self.store.get_many(gkey, self.keys, self.seed)) == len(self.keys)

    async def evaluate(
        self,
        spec: GraphSpec,
        gkey: str,
        rungs: Sequence[int],
        prune: Callable[[float, int], bool] | None = None,
    ) -> Evaluation:
        """Evaluate ``spec`` on the rungs (the last rung is the whole dev set)."""
        done = self.store.get_many(gkey, self.keys, self.seed)
        if len(done) == len(self.keys):
            rungs = [len(self.keys)]  # nothing to run: score it on everything at once
        ev = Evaluation(status="complete")
        cut_before = any(o.truncated for o in done.values())
        if cut_before:
            rungs = [len(self.keys)]  # truncated before: score what ran, spend nothing more
        for size in rungs:
            subset = list(zip(self.tasks[:size], self.keys[:size], strict=True))
            missing = [] if cut_before else [(t, k) for t, k in subset if k not in done]
            if missing:
                left = self.available()
                need = self.estimator.per_task(spec) * len(missing)
                if left is not None and need > left:
                    ev.status = "refused"
                    kept = (
                        f" (${self.reserve:.6f} more is kept for later steps)"
                        if self.reserve
                        else ""
                    )
                    ev.reason = (
                        f"{len(missing)} tasks estimated at ${need:.6f}, more than the "
                        f"${max(left, 0.0):.6f} left of the budget{kept}"
                    )
                    return ev
                ran = await self._run(spec, gkey, missing)
                outs = [o for o in ran if o is not None]
                ev.fresh += len(outs)
                ev.errors += [
                    o.error or "error" for o in outs if o.status == "error" and not o.cacheable
                ]
                spent = sum(o.cost for o in outs)
                ev.spent += spent
                if any(o.status == INTERRUPTED for o in outs):
                    ev.status = INTERRUPTED
                    ev.reason = "the optimizer's budget refused a model call of this evaluation"
                    return ev
                if not any(o.truncated for o in outs):  # a truncated task's spend was capped
                    self.estimator.observe(spec, len(outs), spent)
                done.update({k: o for (_, k), o in zip(missing, ran, strict=True) if o is not None})
            got = [done[k] for _, k in subset if k in done]
            ev.outcomes = {k: done[k] for _, k in subset if k in done}
            ev.tasks = len(got)
            credit = [self.credit(o) for o in got]
            ev.accuracy = sum(credit) / len(got)
            ev.interval = accuracy_interval(credit, confidence=self.confidence)
            ev.cost = sum(o.cost for o in got) / len(got)
            ev.score = self.score(ev.accuracy, ev.cost)
            ev.truncated = sum(o.truncated for o in got)
            if ev.truncated:
                ev.status = "truncated"
                ev.reason = (
                    f"{ev.truncated} of {len(got)} tasks cut short by the graph's per-task "
                    "budget (samples refused): not the graph as specified, so not ranked"
                )
                return ev
            if prune is not None and size < len(self.keys) and prune(ev.score, size):
                ev.status = "pruned"
                ev.reason = f"pruned after {size} tasks (score {ev.score:.4f})"
                return ev
        return ev

    async def _run(
        self, spec: GraphSpec, gkey: str, jobs: Sequence[tuple[Task, str]]
    ) -> list[TaskOutcome | None]:
        """Run ``jobs``; once one is truncated the rest are not started (``None``): the
        graph will not be ranked, so no more is spent on it."""
        sem = asyncio.Semaphore(self.concurrency)
        worst = self.estimator.worst_per_task(spec)
        cut = False

        async def one(task: Task, key: str) -> TaskOutcome | None:
            nonlocal cut
            async with sem:
                if cut:
                    return None
                hold = self.store.hold(self.study_id, worst, note=f"{gkey} {task.id}")
                try:
                    out = await self.evaluator.run_task(spec, gkey, task, self.seed)
                except BaseException:
                    self.store.settle(hold, worst)  # what it spent is unknown: keep the worst case
                    raise
                self.store.settle(
                    hold,
                    out.cost + out.evaluation_cost,
                    key=gkey,
                    task=key,
                    seed=self.seed,
                    outcome=out if out.cacheable else None,
                )
                cut = cut or out.truncated
                return out

        return list(await asyncio.gather(*(one(t, k) for t, k in jobs)))
