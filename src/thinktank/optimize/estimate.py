"""Noise-aware estimates of each evaluated graph's accuracy: what the incumbent is chosen by.

A dev score is a sample: a graph's accuracy on a few dozen tasks has a standard error
of several points, so the graph with the *highest* dev score is an optimistic pick —
the more graphs tried, the more so (the winner's curse). Noisy Bayesian optimization
declares instead the graph with the best *posterior* accuracy, which borrows strength
from structurally similar graphs: a lone lucky score among graphs that all do worse is
shrunk toward them, a good score its neighbours agree with is trusted.

The model is a Gaussian process over the graphs of the space:

* **prior** — a graph's true accuracy ``f(g)`` has an unknown constant mean (integrated
  out: restricted likelihood, generalised least squares) and covariance
  ``k(g, g') = s2 * exp(-theta * d(g, g')) + t2 * [d(g, g') = 0]``, where ``d`` counts
  the dimensions of the space (a node's model, ``n``, temperature, presence, an edge,
  the selection method...) on which the two graphs' choices differ (a dimension a graph
  does not use counts as one more option). ``s2`` is how much graphs vary, ``theta``
  how fast similarity falls with each changed choice, ``t2`` what a graph has of its
  own that no neighbour shares;
* **noise** — each observation is a graph's mean credit over its ``n`` tasks, with the
  sampling variance of that mean, ``p(1-p)/n`` with ``p`` smoothed toward 1/2 by one
  task each way (so 10/10 is not taken as certain); for partial credit in [0, 1] this
  bounds the variance from above;
* **hyperparameters** — ``s2``, ``theta`` and ``t2`` maximise the restricted marginal
  likelihood over a fixed grid (:data:`GRID`: no optimiser, deterministic).

The posterior mean of every observed graph's accuracy (and its standard deviation) is
returned; a graph's *estimated score* is that mean less ``cost_weight`` times its
measured cost per task (cost is measured on every task, with little noise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

SIGNAL = (0.002, 0.005, 0.01, 0.02, 0.05)
"""Grid of ``s2``: prior variance of accuracy between graphs (sd 4.5 to 22 points)."""
DECAY = (0.2, 0.4, 0.8, 1.6)
"""Grid of ``theta``: log-correlation lost per differing dimension."""
OWN = (0.0, 0.0002, 0.0008, 0.0032)
"""Grid of ``t2``: variance of a graph's own effect (sd 0 to 5.7 points)."""
GRID: tuple[tuple[float, float, float], ...] = tuple(
    (s, d, t) for s in SIGNAL for d in DECAY for t in OWN
)
MIN_POINTS = 3
"""Below this many observed graphs the estimate is each graph's own mean (no model)."""

Hyper = tuple[float, float, float]


@dataclass(frozen=True)
class Observation:
    """One graph's evidence: its choices and the mean credit over its tasks."""

    key: str
    params: Mapping[str, Any]
    """The graph's choices per dimension (a trial's params)."""
    mean: float
    """Mean credit over the tasks (accuracy for right/wrong tasks)."""
    tasks: int


@dataclass(frozen=True)
class Posterior:
    """The estimate of one graph's accuracy."""

    mean: float
    sd: float
    """``nan`` when the fit skipped standard deviations."""
    raw: float
    """Its own mean credit (what the dev score shows)."""
    tasks: int


@dataclass
class Fit:
    """A fitted model: the posterior of every observed graph, and the settings chosen."""

    posteriors: dict[str, Posterior] = field(default_factory=dict)
    hyper: Hyper | None = None
    """(s2, theta, t2); ``None``: too few graphs, each graph's own mean is its estimate."""
    log_likelihood: float | None = None


def _noise(o: Observation) -> float:
    n = max(o.tasks, 1)
    p = (o.mean * n + 1.0) / (n + 2.0)
    return p * (1.0 - p) / n


_ABSENT = "<not used>"


def _differ(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    """Dimensions on which two graphs' choices differ (not used counts as an option)."""
    return sum(repr(a.get(d, _ABSENT)) != repr(b.get(d, _ABSENT)) for d in set(a) | set(b))


def _solve(
    dist: np.ndarray, y: np.ndarray, noise: np.ndarray, hyper: Hyper, *, sd: bool
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """(restricted log marginal likelihood, posterior means, posterior sds if ``sd``)."""
    s2, theta, t2 = hyper
    k = s2 * np.exp(-theta * dist) + t2 * (dist == 0)
    a = k + np.diag(noise) + 1e-10 * np.eye(len(y))
    logdet = 2.0 * float(np.log(np.diag(np.linalg.cholesky(a))).sum())
    ones = np.ones(len(y))
    rhs = np.column_stack([ones, y, k]) if sd else np.column_stack([ones, y])
    sol = np.linalg.solve(a, rhs)  # one factorisation for every right-hand side
    ai_one, ai_y = sol[:, 0], sol[:, 1]
    prec = float(ones @ ai_one)
    mean = float(ones @ ai_y) / prec
    alpha = ai_y - mean * ai_one
    # the constant mean integrated out (REML), so the grid does not favour overfitting it
    ll = float(-0.5 * (y - mean) @ alpha - 0.5 * logdet - 0.5 * math.log(prec))
    post = mean + k @ alpha
    if not sd:
        return ll, post, None
    u = 1.0 - ai_one @ k  # the constant mean's own uncertainty
    var = np.diag(k) - (k * sol[:, 2:]).sum(axis=0) + u * u / prec
    return ll, post, np.sqrt(np.maximum(var, 0.0))


def _neighbours(h: Hyper) -> list[Hyper]:
    """The grid points one step from ``h`` along each setting."""
    axes = (SIGNAL, DECAY, OWN)
    at = [axis.index(v) for axis, v in zip(axes, h, strict=True)]
    out = []
    for d, axis in enumerate(axes):
        for step in (-1, 1):
            i = at[d] + step
            if 0 <= i < len(axis):
                moved = list(h)
                moved[d] = axis[i]
                out.append((moved[0], moved[1], moved[2]))
    return out


FULL_GRID_UP_TO = 60
"""Up to this many graphs :meth:`Estimator.select` scores the whole grid; beyond, it
climbs from the previous choice one grid step at a time (a fit costs O(graphs^3))."""


class Estimator:
    """The model over a study's graphs, updated as evidence comes (the distances between
    graphs are kept, so a new graph costs one row of them and a solve)."""

    def __init__(self) -> None:
        self.obs: list[Observation] = []
        self._at: dict[str, int] = {}
        self._dist = np.zeros((0, 0))

    def __len__(self) -> int:
        return len(self.obs)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def get(self, key: str) -> Observation | None:
        """The evidence held for a graph."""
        i = self._at.get(key)
        return None if i is None else self.obs[i]

    def observe(self, o: Observation) -> None:
        """Add a graph's evidence, or replace it (the graph seen on more tasks)."""
        i = self._at.get(o.key)
        if i is not None:  # its place among the others stays that of its first choices
            self.obs[i] = replace(o, params=self.obs[i].params)
            return
        row = np.asarray([_differ(o.params, p.params) for p in self.obs], dtype=float)
        n = len(self.obs)
        dist = np.zeros((n + 1, n + 1))
        dist[:n, :n] = self._dist
        dist[n, :n] = dist[:n, n] = row
        self._dist = dist
        self._at[o.key] = n
        self.obs.append(o)

    def select(self, start: Hyper | None = None) -> Hyper | None:
        """The grid point of highest likelihood on the evidence so far (``None``: too
        few graphs for a model). With ``start`` (the previous choice) and more than
        :data:`FULL_GRID_UP_TO` graphs, the best found climbing from it."""
        if len(self.obs) < MIN_POINTS:
            return None
        y, noise = self._data()

        def score(h: Hyper) -> float:
            return _solve(self._dist, y, noise, h, sd=False)[0]

        if start is None or start not in GRID or len(self.obs) <= FULL_GRID_UP_TO:
            scores = [score(h) for h in GRID]
            return GRID[int(np.argmax(scores))]
        best, top = start, score(start)
        while True:
            moves = [(score(h), h) for h in _neighbours(best)]
            got, h = max(moves)
            if got <= top + 1e-9:
                return best
            best, top = h, got

    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray([o.mean for o in self.obs], dtype=float)
        noise = np.asarray([_noise(o) for o in self.obs], dtype=float)
        return y, noise

    def fit(self, hyper: Hyper | None = None, *, sd: bool = True) -> Fit:
        """The posterior of every graph observed. ``hyper`` fixes (s2, theta, t2); by
        default they are chosen now (:meth:`select`). ``sd=False`` skips the standard
        deviations (the means are what an incumbent needs)."""
        out = Fit()
        if len(self.obs) < MIN_POINTS:
            for o in self.obs:
                out.posteriors[o.key] = Posterior(
                    mean=o.mean, sd=math.sqrt(_noise(o)), raw=o.mean, tasks=o.tasks
                )
            return out
        hyper = hyper or self.select()
        assert hyper is not None
        y, noise = self._data()
        ll, post, sds = _solve(self._dist, y, noise, hyper, sd=sd)
        out.hyper, out.log_likelihood = hyper, ll
        for i, o in enumerate(self.obs):
            out.posteriors[o.key] = Posterior(
                mean=float(post[i]),
                sd=float(sds[i]) if sds is not None else math.nan,
                raw=o.mean,
                tasks=o.tasks,
            )
        return out

    def predict(
        self, points: Sequence[Mapping[str, Any]], hyper: Hyper | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and standard deviations of graphs given by their choices
        (observed or not: an unobserved graph is predicted from its neighbours)."""
        if not points:
            return np.zeros(0), np.zeros(0)
        if len(self.obs) < MIN_POINTS:
            mu = float(np.mean([o.mean for o in self.obs])) if self.obs else 0.5
            return np.full(len(points), mu), np.full(len(points), 0.5)
        hyper = hyper or self.select()
        assert hyper is not None
        s2, theta, t2 = hyper
        y, noise = self._data()
        k = s2 * np.exp(-theta * self._dist) + t2 * (self._dist == 0)
        a = k + np.diag(noise) + 1e-10 * np.eye(len(y))
        d = np.asarray([[_differ(p, o.params) for o in self.obs] for p in points], dtype=float)
        ks = s2 * np.exp(-theta * d) + t2 * (d == 0)
        ones = np.ones(len(y))
        sol = np.linalg.solve(a, np.column_stack([ones, y, ks.T]))
        ai_one, ai_y = sol[:, 0], sol[:, 1]
        prec = float(ones @ ai_one)
        mean = float(ones @ ai_y) / prec
        mu = mean + ks @ (ai_y - mean * ai_one)
        u = 1.0 - ks @ ai_one
        var = (s2 + t2) - (ks * sol[:, 2:].T).sum(axis=1) + u * u / prec
        return mu, np.sqrt(np.maximum(var, 0.0))


def fit(obs: Sequence[Observation], *, hyper: Hyper | None = None) -> Fit:
    """The posterior of each observed graph (one observation per graph)."""
    est = Estimator()
    for o in obs:
        if o.key in est:
            raise ValueError(f"graph {o.key} observed twice: merge a graph's tasks first")
        est.observe(o)
    return est.fit(hyper)


__all__ = [
    "FULL_GRID_UP_TO",
    "GRID",
    "Estimator",
    "Fit",
    "Hyper",
    "Observation",
    "Posterior",
    "fit",
]
