"""The propose → evaluate → tell loop of a :class:`~thinktank.optimize.study.Study`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from thinktank.errors import UsageError
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.ledger import UsageLedger, scope
from thinktank.optimize._incumbent import Tracker
from thinktank.optimize._screen import screened
from thinktank.optimize.algorithms import OptunaChooser, Samplers, derive_seed
from thinktank.optimize.decode import Assignment, assign, build, iter_assignments
from thinktank.optimize.reinforce import EDITS_ATTR, history
from thinktank.optimize.results import (
    Selection,
    StudyResult,
    TrialRecord,
    best_trial,
    log_line,
    pareto_front,
)
from thinktank.optimize.store import graph_key

if TYPE_CHECKING:
    from thinktank.optimize._evaluation import Evaluations
    from thinktank.optimize.config import StudyConfig
    from thinktank.optimize.costs import CostEstimator
    from thinktank.optimize.space import SearchSpace
    from thinktank.optimize.study import Study

log = logging.getLogger(__name__)


class EvaluationFailed(UsageError):
    """Every task of the study's first evaluation failed (a model or setup problem)."""


MAX_REFUSALS = 20
REJECTED = -1.0
"""The value a model-based sampler is told for an invalid proposal."""


def space_dims(space: SearchSpace) -> dict[str, list[Any]]:
    """Every dimension a chooser may be asked about, with its options."""
    dims: dict[str, list[Any]] = {}
    for name, opts in (
        ("selection", space.selection),
        ("rounds", space.rounds),
        ("stop_on_agreement", space.stop_on_agreement),
    ):
        dims[name] = list(opts)
    for n in space.nodes:
        for dim, opts in n.option_lists().items():
            dims[f"{n.id}.{dim}"] = list(opts)
    for e in space.edges:
        dims[e.key] = [False, True]
    return {k: v for k, v in dims.items() if len(v) > 1}


def records_of(study: optuna.Study) -> list[TrialRecord]:
    """The records of the trials that were told. A trial a crash cut short between its
    record and its tell (still running, or failed and proposed again on resume) has none:
    counting it would shift every later trial's index, hence its sampler seed."""
    trials = study.get_trials(deepcopy=False)
    crashed = {t.user_attrs.get("resumed_from") for t in trials}
    out = []
    for t in trials:
        rec = t.user_attrs.get("record")
        if rec is not None and t.state != TrialState.RUNNING and t.number not in crashed:
            out.append(TrialRecord.model_validate(rec))
    return out


class Loop:
    """State of one session of a study's search."""

    def __init__(
        self,
        owner: Study,
        study: optuna.Study,
        space: SearchSpace,
        evals: Evaluations,
        est: CostEstimator,
        *,
        pruning: bool,
        sizes: list[int],
        cheapest: GraphSpec,
        space_size: int | None,
        stale: int,
        reserve: Callable[[list[TrialRecord]], float] | None = None,
    ) -> None:
        c = owner.config
        self.owner, self.c, self.study, self.space = owner, c, study, space
        self.evals, self.est = evals, est
        self.pruning, self.sizes, self.cheapest, self.space_size = (
            pruning,
            sizes,
            cheapest,
            space_size,
        )
        self.reserve = reserve
        """Dollars the steps after the search need, for the trials so far (kept back)."""
        self.fp = owner.evaluator.fingerprint()
        self.samplers = Samplers(
            c.algo,
            seed=c.seed,
            dims=space_dims(space),
            startup_trials=c.startup_trials,
            population=c.population,
            reinforce=c.reinforce,
        )
        self.records = records_of(study)
        self.tracker = Tracker(c.incumbent, c.cost_weight, study)
        self.tracker.replay(self.records)
        self.evaluated = {r.key for r in self.records if r.evaluation is not None}
        self.complete = {r.key for r in self.records if r.status in ("complete", "cached")}
        self.rejections = self.refusals = 0
        self.interrupted = self.exhausted = False
        self._grid: list[Assignment] = []
        self._grid_iter = iter_assignments(space)
        self.max_trials = c.max_trials or (10 * c.max_evals if c.max_evals else 10_000)
        self.idle = 0
        self.log_path = owner.out_dir / "search_log.jsonl" if owner.out_dir else None
        if stale:
            log.warning("%d task(s) were cut short by a crash; charged at their worst case", stale)

    # --- control ----------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        c = self.c
        if self.owner.stopped:
            return "stopped"
        if self.interrupted or self.refusals >= MAX_REFUSALS:
            return "budget"
        if self.reserve is not None:
            self.evals.reserve = self.reserve(self.records)
        left = self.evals.available()
        if left is not None and self.est.per_task(self.cheapest) * self.sizes[0] > left:
            return "budget"
        if c.max_evals is not None and len(self.evaluated) >= c.max_evals:
            return "max_evals"
        if len(self.records) >= self.max_trials:
            return "max_trials"
        if self.space_size is not None and len(self.complete) >= self.space_size:
            return "space_exhausted"
        if self.rejections >= c.max_rejections:
            return "rejections"
        if self.idle >= c.patience:
            return "converged"
        if self.exhausted:
            return "space_exhausted"
        return None

    def grid_point(self, index: int) -> Assignment | None:
        """The ``index``-th point of the space in enumeration order (``None`` past the end)."""
        while len(self._grid) <= index:
            nxt = next(self._grid_iter, None)
            if nxt is None:
                return None
            self._grid.append(nxt)
        return self._grid[index]

    def resume_crashed(self) -> None:
        """Trials a crash left running are failed and proposed again with the same choices."""
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study.tell(t.number, state=TrialState.FAIL)
            self.study.enqueue_trial(dict(t.params), user_attrs={"resumed_from": t.number})
            log.warning("trial %d was cut short by a crash; proposing it again", t.number)

    async def run(self) -> str:
        self.resume_crashed()
        while True:
            reason = self.stop_reason()
            if reason is not None:
                return reason
            await self.step(len(self.records))

    # --- one proposal -----------------------------------------------------------------

    async def step(self, index: int) -> None:
        c, study = self.c, self.study
        study.sampler = self.samplers.for_index(index)
        if c.algo == "reinforce" and c.reinforce.feedback_every and self.owner.feedback_model:
            await self.feedback()
        if c.algo == "llm":
            await self.llm_proposal(index)
        if c.algo == "reinforce" and c.reinforce.screen:
            params = screened(self, index)
            if params is not None:
                study.enqueue_trial(params)
        if c.algo == "grid":
            point = self.grid_point(index)
            if point is None:
                self.exhausted = True
                return
            study.enqueue_trial(point.params)
        t0 = time.perf_counter()
        trial = study.ask()
        trial.set_user_attr("index", index)
        a = assign(self.space, OptunaChooser(trial, derive_seed(c.seed, index, "edges")))
        # the constraint is checked on the graph's expected cost once evaluations have
        # calibrated it (the static estimate assumes full-length replies); before that, a
        # graph too dear for its per-task budget shows as truncated and is not ranked
        cost = self.est.expected if self.est.ratio is not None else self.est.per_task
        d = build(self.space, a, task_cost=cost)
        rec = TrialRecord(number=trial.number, index=index, status="rejected", params=a.params)
        if d.spec is None or d.key is None:
            rec.reason = d.reason
            self.rejections += 1
            return self.tell(trial, rec, t0)
        self.rejections = 0
        spec = d.spec
        gkey = graph_key(d.key, self.fp)
        rec.key, rec.name, rec.description = gkey, spec.name, spec.description

        def prune(score: float, size: int) -> bool:
            trial.report(score, step=size)
            return trial.should_prune()

        pruning = self.pruning and not self.evals.fully_cached(gkey)
        ev = await self.evals.evaluate(
            spec, gkey, self.sizes if pruning else [self.sizes[-1]], prune if pruning else None
        )
        if ev.errors and len(ev.errors) == ev.fresh and not self.complete:
            # nothing has worked yet and every task failed: a broken model or setup, not a bad graph
            self.tell(
                trial, rec.model_copy(update={"status": "interrupted", "reason": ev.errors[0]}), t0
            )
            raise EvaluationFailed(
                f"every task of the first evaluation failed ({spec.description}); the first "
                f"error: {ev.errors[0]} — check the model pool (--model-pool) and the endpoint"
            )
        rec.status, rec.reason = ev.status, ev.reason
        rec.accuracy, rec.cost, rec.score, rec.tasks = ev.accuracy, ev.cost, ev.score, ev.tasks
        if ev.interval is not None:
            rec.accuracy_low, rec.accuracy_high = ev.interval.low, ev.interval.high
        rec.fresh, rec.spent = ev.fresh, ev.spent
        self.refusals = self.refusals + 1 if ev.status == "refused" else 0
        self.interrupted = ev.status == "interrupted"
        if ev.status in ("complete", "pruned", "truncated"):
            if gkey in self.evaluated:
                # a graph seen before: a repeat (all cached), or the rest of a pruned one
                rec.status = "cached" if ev.status == "complete" and not ev.fresh else ev.status
            else:
                self.evaluated.add(gkey)
                rec.evaluation = len(self.evaluated)
        if rec.status in ("complete", "cached"):
            self.complete.add(gkey)
            rec.spec = spec.model_dump(mode="json", exclude_defaults=True)
        return self.tell(trial, rec, t0)

    def tell(self, trial: optuna.trial.Trial, rec: TrialRecord, t0: float) -> None:
        self.tracker.update(rec)
        rec.elapsed_s = round(time.perf_counter() - t0, 4)
        rec.total_spent = self.evals.store.spent(self.evals.study_id)
        trial.set_user_attr("record", rec.model_dump(mode="json"))
        reward = rec.score
        if self.c.learns_from_estimate() and rec.estimate is not None:
            reward = rec.estimate
        if rec.score is not None:
            trial.set_user_attr("score", rec.score)
            trial.set_user_attr("reward", reward)
        if self.est.ratio is not None:
            self.study.set_user_attr("cost_ratio", self.est.ratio)
        if rec.status in ("complete", "cached"):
            values: Any = [rec.accuracy, rec.cost] if self.c.algo == "nsga2" else reward
            self.study.tell(trial, values)
        elif rec.status in ("rejected", "truncated") and self.c.algo in ("tpe", "nsga2"):
            # model-based samplers ignore failed trials and would propose the same invalid
            # points again: they learn the invalid region from a score below any graph's
            # (a truncated graph does not fit its per-task budget: as good as invalid)
            self.study.tell(trial, [REJECTED, 1e6] if self.c.algo == "nsga2" else REJECTED)
        else:
            state = TrialState.PRUNED if rec.status == "pruned" else TrialState.FAIL
            self.study.tell(trial, state=state)
        self.records.append(rec)
        self.idle = 0 if rec.evaluation is not None else self.idle + 1
        if self.log_path is not None:
            with self.log_path.open("a") as fh:
                fh.write(log_line(rec) + "\n")
        if self.owner.on_trial is not None:
            self.owner.on_trial(rec)

    # --- LLM steps --------------------------------------------------------------------

    async def _charged(self, coro: Any, note: str) -> Any:
        """Run an LLM step on the optimizer's budget; its cost goes into the spend journal."""
        ledger = UsageLedger()
        try:
            with scope(budget=self.owner.evaluator.budget, ledger=ledger):
                return await coro
        finally:
            cost = ledger.totals().cost_usd
            if cost:
                self.evals.store.charge(self.evals.study_id, cost, note)

    async def feedback(self) -> None:
        """REINFORCE's textual gradient, once per ``feedback_every`` batches."""
        from thinktank.optimize.reinforce import replay
        from thinktank.optimize.textgrad import textual_gradient

        cfg, model = self.c.reinforce, self.owner.feedback_model
        assert model is not None
        past = history(self.study)
        batch = len(past) // cfg.batch
        edits = dict(self.study.user_attrs.get(EDITS_ATTR, {}))
        if batch == 0 or len(past) % cfg.batch or batch % cfg.feedback_every or str(batch) in edits:
            return
        policy = replay(
            self.samplers.reinforce.dims if self.samplers.reinforce else {}, past, edits, cfg
        )
        results = [(p, {"score": s, **self._stats(p)}) for p, s in past]
        try:
            got, dropped, why = await self._charged(
                textual_gradient(
                    model,
                    policy,
                    results,
                    max_delta=cfg.max_edit,
                    seed=derive_seed(self.c.seed, batch),
                ),
                "reinforce feedback",
            )
        except Exception as exc:  # a feedback failure must not end the search
            log.warning("the LLM feedback step failed (%s); continuing without it", exc)
            got, dropped, why = [], [f"failed: {exc}"], ""
        edits[str(batch)] = got
        self.study.set_user_attr(EDITS_ATTR, edits)
        self.study.set_user_attr(f"feedback_{batch}", {"rationale": why, "dropped": dropped})

    def _stats(self, params: dict[str, Any]) -> dict[str, Any]:
        for r in reversed(self.records):
            if r.params == params and r.accuracy is not None:
                return {"accuracy": r.accuracy, "cost": r.cost or 0.0}
        return {}

    async def llm_proposal(self, index: int) -> None:
        """AFlow-style: the model edits one of the best graphs; enqueued for the next ask."""
        from thinktank.optimize.llm_edit import propose

        model = self.owner.feedback_model
        done = [r for r in self.records if r.status in ("complete", "cached")]
        if model is None or len(done) < self.c.startup_trials:
            return
        try:
            params = await self._charged(
                propose(
                    model,
                    space_dims(self.space),
                    done,
                    seed=derive_seed(self.c.seed, index),
                ),
                "llm proposal",
            )
        except Exception as exc:
            log.warning("the LLM proposal failed (%s); proposing at random", exc)
            return
        if params:
            self.study.enqueue_trial(params)


def collect(
    study: optuna.Study,
    c: StudyConfig,
    *,
    spent: float,
    stop: str,
    sessions: int,
    selection: Selection | None = None,
) -> StudyResult:
    """The study's result from its trials; the best is the graph the selection chose (the
    best dev score without one)."""
    trials = sorted(records_of(study), key=lambda r: r.number)
    best = best_trial(trials)
    if selection is not None and selection.chosen is not None:
        best = next((t for t in trials if t.number == selection.chosen), best)
    return StudyResult(
        name=c.name,
        algo=c.algo,
        trials=trials,
        best=best,
        selection=selection,
        pareto=pareto_front(trials),
        evaluations=sum(r.evaluation is not None for r in trials),
        spent_usd=spent,
        budget_usd=c.budget_usd,
        stop_reason=stop,
        sessions=sessions,
    )
