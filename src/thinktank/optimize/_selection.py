"""After the search: the top candidates re-evaluated on more tasks, the best chosen on
the combined evidence, then the best run once on the held-out tasks.

The dev leader won on the tasks it was selected on, so its dev accuracy is biased
upwards (the more graphs tried, the more so), and a graph a few points behind it may
be better. So before a best is declared:

1. **Candidates** — the ``top_k`` graphs by estimated score (the incumbent's model,
   :mod:`thinktank.optimize._incumbent`; by dev score with ``incumbent: dev``), and the
   dev leader after them when the estimate ranked it lower; by default only those whose
   dev interval reaches the incumbent's (the others are clearly behind and not
   re-checked).
2. **Confirmation** — each candidate, the incumbent first, runs the confirmation tasks
   (the evaluation cache is reused, so a resumed study only runs what is missing; every
   dollar is charged to the study's budget, which keeps enough back during the search
   for these steps). The best is the candidate with the highest estimated score over
   its dev and confirmation tasks together (the model given those tasks too; the
   highest raw score with ``incumbent: dev``); the paired difference of every candidate
   to it (the same tasks on both sides) is reported with its interval. A budget that
   cannot cover a candidate stops the step there, and the selection says so
   (``partial``, or ``incomplete`` when the incumbent itself could not be re-checked).
3. **Held-out** — the chosen graph, then the other candidates as far as the budget
   goes, run the held-out tasks once. This happens after the choice and nothing reads
   it back into one: held-out accuracy is an unbiased estimate of the declared best.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.optimize.algorithms import derive_seed
from thinktank.optimize.objective import TaskOutcome
from thinktank.optimize.results import (
    EVALUATED,
    Candidate,
    Evidence,
    Selection,
    TrialRecord,
)
from thinktank.optimize.stats import (
    Interval,
    accuracy_interval,
    paired_difference,
    score_interval,
    z_value,
)

if TYPE_CHECKING:
    from thinktank.optimize._evaluation import Evaluations
    from thinktank.optimize._incumbent import Tracker
    from thinktank.optimize.config import StudyConfig


def ranked(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """One trial per graph evaluated on the whole dev set, best dev score first (ties:
    cheaper, then earlier; the order of :func:`~thinktank.optimize.results.best_trial`)."""
    first: dict[str, TrialRecord] = {}
    for r in sorted(records, key=lambda r: r.number):
        if r.status in EVALUATED and r.score is not None and r.key and r.spec is not None:
            first.setdefault(r.key, r)
    return sorted(first.values(), key=lambda t: (-(t.score or 0.0), t.cost or 0.0, t.index))


class Finisher:
    """The steps after the search for one study session (see the module docstring)."""

    def __init__(
        self,
        config: StudyConfig,
        evals: Evaluations,
        confirm: Sequence[Task],
        holdout: Sequence[Task],
        cheapest: GraphSpec,
        *,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.c = config
        self.on_step = on_step
        self.evals = evals
        self.confirm = evals.for_tasks(confirm) if confirm else None
        self.holdout = evals.for_tasks(holdout) if holdout else None
        self.cheapest = cheapest
        self._specs: dict[str, GraphSpec] = {}
        self.tracker: Tracker | None = None
        """The search's model (set by the study): ranks the candidates by estimate."""

    def ranked(self, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        """The graphs evaluated on the whole dev set, best first: by estimate (the
        tracker's), or by dev score with ``incumbent: dev``."""
        if self.tracker is not None and self.c.incumbent == "estimate":
            got = self.tracker.ranked()
            if got:
                return got
        return ranked(records)

    def candidates(self, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        """The top ``top_k`` (at least one), and the dev leader after them when the
        estimate ranked it lower: its re-evaluation checks the model's demotion."""
        top = self.ranked(records)
        out = top[: max(self.c.top_k, 1)]
        if self.c.top_k and top:
            leader = ranked(records)[0]
            if all(r.key != leader.key for r in out):
                out.append(leader)
        return out

    def spec(self, rec: TrialRecord) -> GraphSpec:
        assert rec.key is not None and rec.spec is not None
        got = self._specs.get(rec.key)
        if got is None:
            got = self._specs[rec.key] = GraphSpec.model_validate(rec.spec)
        return got

    # --- the budget kept back during the search ----------------------------------------

    def _missing(self, evals: Evaluations | None, key: str | None) -> int:
        if evals is None:
            return 0
        if key is None:
            return len(evals.keys)
        return len(evals.keys) - len(evals.store.get_many(key, evals.keys, evals.seed))

    def reserve(self, records: Sequence[TrialRecord]) -> float:
        """Dollars the steps after the search are predicted to need, for the candidates as
        they stand (the cheapest graph's before any graph is fully evaluated); cached
        tasks cost nothing."""
        if self.evals.budget_usd is None or (self.confirm is None and self.holdout is None):
            return 0.0
        est = self.evals.estimator
        top = self.candidates(records)
        todo: list[tuple[GraphSpec, str | None]] = [(self.spec(r), r.key) for r in top]
        if not todo:
            todo = [(self.cheapest, None)]
        total = 0.0
        if self.c.top_k > 0:
            total += sum(est.per_task(s) * self._missing(self.confirm, k) for s, k in todo)
        total += max(est.per_task(s) * self._missing(self.holdout, k) for s, k in todo)
        return total

    # --- the steps ----------------------------------------------------------------------

    def _evidence(self, outcomes: Sequence[TaskOutcome], salt: object) -> Evidence:
        credit = [self.evals.credit(o) for o in outcomes]
        costs = [o.cost for o in outcomes]
        seed = derive_seed(self.c.seed, "bootstrap", salt)
        conf = self.c.confidence
        return Evidence(
            tasks=len(outcomes),
            accuracy=accuracy_interval(credit, confidence=conf, seed=seed),
            score=score_interval(
                credit, costs, cost_weight=self.c.cost_weight, confidence=conf, seed=seed
            ),
            cost=sum(costs) / len(costs) if costs else 0.0,
        )

    async def run(self, records: Sequence[TrialRecord]) -> Selection:
        c = self.c
        sel = Selection(
            status="none",
            top_k=c.top_k,
            confidence=c.confidence,
            dev_tasks=len(self.evals.keys),
            confirm_tasks=len(self.confirm.keys) if self.confirm else 0,
            holdout_tasks=len(self.holdout.keys) if self.holdout else 0,
        )
        top = self.ranked(records)
        if not top:
            sel.reason = "no graph was evaluated on the whole dev set"
            sel.holdout_status = "none"
            return sel
        by_estimate = self.tracker is not None and top[0].estimate is not None
        sel.ranking = "estimate" if by_estimate else "dev"
        posterior = self._posterior() if by_estimate else {}
        dev: dict[str, dict[str, TaskOutcome]] = {}
        cands = []
        for i, r in enumerate(self.candidates(records)):
            assert r.key is not None
            dev[r.key] = self.evals.store.get_many(r.key, self.evals.keys, self.evals.seed)
            ev = self._evidence(list(dev[r.key].values()), (r.key, "dev"))
            cands.append(
                Candidate(
                    number=r.number,
                    key=r.key,
                    description=r.description,
                    rank=i + 1,
                    dev=ev,
                    estimate=posterior.get(r.key),
                )
            )
        sel.candidates = cands
        lead = cands[0]
        sel.incumbent = sel.chosen = lead.number
        sel.leader = ranked(records)[0].number
        for x in cands[1:]:
            if c.confirm_overlap and x.dev.score.high < lead.dev.score.low:
                x.status = "excluded"
                x.reason = (
                    f"its dev score {x.dev.score.fmt(pct=False)} lies below the incumbent's "
                    f"interval {lead.dev.score.fmt(pct=False)}"
                )
        chosen = lead
        if c.top_k == 0:
            sel.status = "off"
            sel.reason = f"top_k is 0: the {_first(sel)} is the best, not re-evaluated"
        elif self.confirm is None:
            sel.status = "no_tasks"
            sel.reason = (
                f"no confirmation tasks (--confirm): the best is the {_first(sel)}, chosen on "
                "the tasks it was selected on, so its dev accuracy is optimistic"
            )
        else:
            chosen = await self._confirm(sel, dev, records)
        sel.chosen = chosen.number
        await self._holdout(sel, chosen, records)
        return sel

    async def _confirm(
        self,
        sel: Selection,
        dev: dict[str, dict[str, TaskOutcome]],
        records: Sequence[TrialRecord],
    ) -> Candidate:
        assert self.confirm is not None
        specs = {r.key: self.spec(r) for r in ranked(records) if r.key in dev}
        todo = [x for x in sel.candidates if x.status != "excluded"]
        self._say(
            f"re-evaluating the top {len(todo)} graph(s) on {len(self.confirm.keys)} "
            "confirmation tasks"
        )
        if self.holdout is not None:  # keep the best's held-out run affordable
            per = max(self.evals.estimator.per_task(specs[x.key]) for x in todo)
            self.confirm.reserve = per * max(self._missing(self.holdout, x.key) for x in todo)
        stop: str | None = None
        both: dict[str, dict[str, TaskOutcome]] = {}
        for x in todo:
            if stop is not None:
                x.status, x.reason = "not_run", stop
                continue
            ev = await self.confirm.evaluate(specs[x.key], x.key, [len(self.confirm.keys)])
            sel.cost_usd += max(_cost_of(ev.outcomes.values()), ev.spent)
            if ev.status in ("complete", "truncated"):
                x.confirm = self._evidence(list(ev.outcomes.values()), (x.key, "confirm"))
            if ev.status == "complete":
                x.status = "confirmed"
                both[x.key] = {**dev[x.key], **ev.outcomes}
                x.combined = self._evidence(list(both[x.key].values()), (x.key, "combined"))
            else:
                x.status, x.reason = str(ev.status), ev.reason
                if ev.status != "truncated":
                    stop = f"the budget stopped the re-evaluation at candidate {x.rank}"
        lead = sel.candidates[0]
        done = [x for x in todo if x.status == "confirmed"]
        if lead.status in ("refused", "interrupted") or not done:
            sel.status = "incomplete"
            why = lead.reason or "its per-task budget cut a confirmation task short"
            sel.reason = (
                f"the {_first(sel)} could not be re-evaluated ({why}); it is the best, "
                "unconfirmed: raise --budget-usd to re-check it"
            )
            return lead
        if sel.ranking == "estimate":
            self._estimate_combined(done, both)
            best = max(done, key=lambda x: (_estimated(x), -_cost(x), -x.rank))
        else:
            best = max(done, key=lambda x: (_combined(x), -_cost(x), -x.rank))
        for x in done:
            common = [k for k in both[x.key] if k in both[best.key]]
            x.vs_chosen = paired_difference(
                [self._score(both[x.key][k]) for k in common],
                [self._score(both[best.key][k]) for k in common],
                confidence=self.c.confidence,
                seed=derive_seed(self.c.seed, "paired", x.key),
            )
        left_out = [x for x in todo if x.status in ("refused", "interrupted", "not_run")]
        sel.status = "partial" if left_out else "confirmed"
        n = best.combined.tasks if best.combined else 0
        how = (
            "by its estimated score on them (the model updated with every candidate's "
            "confirmation tasks)"
            if sel.ranking == "estimate"
            else "by its score on them"
        )
        sel.reason = (
            f"{len(done)} candidate(s) re-evaluated on {len(self.confirm.keys)} more tasks; "
            f"the best chosen on its {n} dev and confirmation tasks, {how}"
            + (f"; {len(left_out)} not re-evaluated: the budget ran short" if left_out else "")
        )
        return best

    def _posterior(self) -> dict[str, Interval]:
        """Each graph's estimated score with its interval (posterior mean ± z·sd)."""
        t = self.tracker
        assert t is not None
        fit = t.estimator.fit(t.hyper, sd=True)
        z = z_value(self.c.confidence)
        out = {}
        for key, p in fit.posteriors.items():
            m = p.mean - t.cost_weight * t.cost(key)
            half = z * p.sd if p.sd == p.sd else 0.0
            out[key] = Interval(value=m, low=m - half, high=m + half, n=p.tasks)
        return out

    def _estimate_combined(
        self, done: list[Candidate], both: dict[str, dict[str, TaskOutcome]]
    ) -> None:
        """The model given the confirmed candidates' dev and confirmation tasks together:
        their estimates (what the best is chosen by) are updated in place."""
        t = self.tracker
        assert t is not None
        for x in done:
            credit = [self.evals.credit(o) for o in both[x.key].values()]
            t.observe_more(x.key, sum(credit) / len(credit), len(credit))
        got = self._posterior()
        for x in done:
            x.estimate = got.get(x.key, x.estimate)

    def _say(self, line: str) -> None:
        if self.on_step is not None:
            self.on_step(line)

    def _score(self, o: TaskOutcome) -> float:
        return self.evals.credit(o) - self.c.cost_weight * o.cost

    async def _holdout(
        self, sel: Selection, chosen: Candidate, records: Sequence[TrialRecord]
    ) -> None:
        if self.holdout is None:
            sel.holdout_status = "no_tasks"
            sel.holdout_reason = (
                "no held-out split (--holdout): the best's accuracy is known only on tasks "
                "it was chosen on"
            )
            return
        self.holdout.reserve = 0.0
        specs = {r.key: self.spec(r) for r in ranked(records)}
        order = [chosen] + [
            x
            for x in sel.candidates
            if x is not chosen and x.status not in ("excluded", "truncated")
        ]
        self._say(
            f"running the best graph (then {len(order) - 1} other candidate(s), budget "
            f"permitting) on {len(self.holdout.keys)} held-out tasks"
        )
        stop: str | None = None
        for x in order:
            if stop is not None:
                x.holdout_status, x.holdout_reason = "not_run", stop
                continue
            ev = await self.holdout.evaluate(specs[x.key], x.key, [len(self.holdout.keys)])
            sel.holdout_cost_usd += max(_cost_of(ev.outcomes.values()), ev.spent)
            if ev.status in ("complete", "truncated"):
                x.holdout = self._evidence(list(ev.outcomes.values()), (x.key, "holdout"))
            x.holdout_status = "evaluated" if ev.status == "complete" else str(ev.status)
            x.holdout_reason = ev.reason
            if ev.status in ("refused", "interrupted"):
                stop = "the budget left did not cover it"
        sel.holdout_status = chosen.holdout_status or "none"
        sel.holdout_reason = chosen.holdout_reason or ""


def _cost_of(outcomes: Iterable[TaskOutcome]) -> float:
    return sum(o.cost + o.evaluation_cost for o in outcomes)


def _first(sel: Selection) -> str:
    return "search's incumbent (the best estimate)" if sel.ranking == "estimate" else "dev leader"


def _estimated(x: Candidate) -> float:
    return x.estimate.value if x.estimate else float("-inf")


def _combined(x: Candidate) -> float:
    return x.combined.score.value if x.combined else float("-inf")


def _cost(x: Candidate) -> float:
    return x.combined.cost if x.combined else 0.0


__all__ = ["Finisher", "ranked"]
