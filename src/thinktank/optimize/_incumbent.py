"""The search's incumbent: the graph the study would declare best now.

With ``StudyConfig.incumbent = "estimate"`` (the default) it is the fully evaluated
graph with the best *estimated* score — the posterior mean of its accuracy under the
model of :mod:`thinktank.optimize.estimate` (which borrows strength from structurally
similar graphs) less ``cost_weight`` times its cost per task. With ``"dev"`` it is the
graph with the best raw dev score (the winner's curse included).

Every told trial updates the model with its graph's evidence (pruned graphs too: their
tasks are evidence about their neighbours, though they are never the incumbent;
truncated ones are not: they are not the graph as specified). The model's settings are
chosen again while the study has at most :data:`REFIT_ALL` graphs and then every
:data:`REFIT_EVERY` new graphs (past 60 graphs by climbing the grid from the previous
choice); the choice is kept in the Optuna study, so a resumed study estimates as the
uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from thinktank.optimize.estimate import Estimator, Fit, Hyper, Observation
from thinktank.optimize.results import EVALUATED, TrialRecord, best_trial

if TYPE_CHECKING:
    import optuna

REFIT_ALL = 30
REFIT_EVERY = 10
HYPER_ATTR = "estimate_hyper"
"""Optuna study user attribute: ``[graphs, s2, theta, t2]`` of the last choice."""
OBSERVED = frozenset({*EVALUATED, "pruned"})


class Tracker:
    """Keeps the model of one study and names its incumbent after each trial."""

    def __init__(self, mode: str, cost_weight: float, study: optuna.Study | None = None) -> None:
        self.mode = mode
        self.cost_weight = cost_weight
        self.study = study
        self.estimator = Estimator()
        self.hyper: Hyper | None = None
        self.fit: Fit | None = None
        self._full: dict[str, TrialRecord] = {}
        """Fully evaluated graphs: key -> its first complete trial."""
        self._cost: dict[str, float] = {}
        self._seen_at = -1
        if study is not None and HYPER_ATTR in study.user_attrs:
            n, *h = study.user_attrs[HYPER_ATTR]
            self.hyper, self._seen_at = (h[0], h[1], h[2]), int(n)

    def replay(self, records: Sequence[TrialRecord]) -> None:
        """The evidence of the trials of earlier sessions (no refit: the kept choice)."""
        for r in records:
            self._observe(r)

    def _observe(self, r: TrialRecord) -> bool:
        if r.status not in OBSERVED or r.key is None or r.accuracy is None or not r.tasks:
            return False
        known = self.estimator.get(r.key)
        if known is None or r.tasks >= known.tasks:
            self.estimator.observe(
                Observation(key=r.key, params=r.params, mean=r.accuracy, tasks=r.tasks)
            )
            self._cost[r.key] = r.cost or 0.0
        if r.status in EVALUATED and r.score is not None and r.spec is not None:
            self._full.setdefault(r.key, r)
        return True

    def _refit_due(self) -> bool:
        n = len(self.estimator)
        if n == self._seen_at:
            return False
        return self.hyper is None or n <= REFIT_ALL or n % REFIT_EVERY == 0

    def update(self, rec: TrialRecord) -> None:
        """Take the trial's evidence and write the estimate and the incumbent into it."""
        if self.mode != "estimate":
            if rec.status in EVALUATED and rec.score is not None and rec.key and rec.spec:
                self._full.setdefault(rec.key, rec)
            best = best_trial(list(self._full.values()))
            if best is not None:
                rec.incumbent = best.number
            return
        if self._observe(rec) or self.fit is None:
            if self._refit_due():
                self.hyper = self.estimator.select(self.hyper)
                self._seen_at = len(self.estimator)
                if self.study is not None and self.hyper is not None:
                    self.study.set_user_attr(HYPER_ATTR, [self._seen_at, *self.hyper])
            self.fit = self.estimator.fit(self.hyper, sd=False)
        if rec.key is not None and rec.key in self.fit.posteriors:
            rec.estimate = self.score(rec.key)
        best = self.incumbent()
        if best is not None:
            rec.incumbent = best.number
            rec.incumbent_estimate = self.score(best.key or "")

    def cost(self, key: str) -> float:
        """The graph's measured cost per task."""
        return self._cost.get(key, 0.0)

    def observe_more(self, key: str, mean: float, tasks: int) -> None:
        """A graph's evidence grown beyond the dev set (its confirmation tasks added)."""
        o = self.estimator.get(key)
        assert o is not None
        self.estimator.observe(Observation(key=key, params=o.params, mean=mean, tasks=tasks))

    def score(self, key: str) -> float:
        """The graph's estimated score: posterior accuracy less the cost term."""
        assert self.fit is not None
        return self.fit.posteriors[key].mean - self.cost_weight * self._cost.get(key, 0.0)

    def ranked(self) -> list[TrialRecord]:
        """Fully evaluated graphs (first trial of each), best estimate first (ties: cheaper,
        then earlier)."""
        if self.mode != "estimate" or self.fit is None:
            return []
        return sorted(
            self._full.values(),
            key=lambda t: (-self.score(t.key or ""), t.cost or 0.0, t.index),
        )

    def incumbent(self) -> TrialRecord | None:
        got = self.ranked()
        return got[0] if got else None


__all__ = ["HYPER_ATTR", "Tracker"]
