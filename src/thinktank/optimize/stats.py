"""The optimizer's statistics: task splits and intervals over tasks.

* :func:`split_tasks` — the dev set, the confirmation set (the top candidates are
  re-evaluated on it before a best is declared) and the held-out set (the best graph
  is evaluated on it once, at the end; never used to choose), deterministic by seed.
* :func:`accuracy_interval` — the share of tasks a graph got right with its Wilson
  interval (a mean of partial credit: a percentile bootstrap over tasks);
  :func:`score_interval` the same for ``accuracy - cost_weight * $/task``;
  :func:`paired_difference` — the mean per-task difference of two graphs on the same
  tasks with its paired bootstrap interval (resampling tasks keeps each task's two
  outcomes together, so what both graphs get right or wrong cancels out).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Generic, TypeVar

import numpy as np
from pydantic import BaseModel

from thinktank.errors import ConfigError
from thinktank.evals.reports.metrics import wilson

RESAMPLES = 2000
"""Bootstrap resamples per interval."""

T = TypeVar("T")


class Interval(BaseModel):
    """A mean over tasks with its interval (``confidence`` of the study, 95% by default)."""

    value: float
    low: float
    high: float
    n: int
    """Tasks it is over."""

    def fmt(self, pct: bool = True, *, signed: bool = False) -> str:
        def f(x: float) -> str:
            if pct:
                return f"{x:+.1%}" if signed else f"{x:.1%}"
            return f"{x:+.3f}" if signed else f"{x:.3f}"

        return f"{f(self.value)} [{f(self.low)}, {f(self.high)}]"

    def shifted(self, by: float) -> Interval:
        return Interval(value=self.value + by, low=self.low + by, high=self.high + by, n=self.n)

    def contains(self, x: float) -> bool:
        return self.low - 1e-12 <= x <= self.high + 1e-12


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _bootstrap(values: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    idx = _rng(seed).integers(0, n, size=(RESAMPLES, n))
    means = values[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def _binary(credit: Sequence[float]) -> bool:
    return all(c in (0.0, 1.0) for c in credit)


def accuracy_interval(
    credit: Sequence[float], *, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """The mean credit over tasks: Wilson when every credit is 0 or 1 (right or wrong),
    else a percentile bootstrap over tasks. For no tasks: nan with (0, 1)."""
    n = len(credit)
    if n == 0:
        return Interval(value=math.nan, low=0.0, high=1.0, n=0)
    mean = float(sum(credit)) / n
    if _binary(credit):
        lo, hi = wilson(round(sum(credit)), n, z_value(confidence))
    else:
        lo, hi = _bootstrap(np.asarray(credit, dtype=float), confidence, seed)
    return Interval(value=mean, low=lo, high=hi, n=n)


def score_interval(
    credit: Sequence[float],
    costs: Sequence[float],
    *,
    cost_weight: float,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The mean of ``credit - cost_weight * cost`` over tasks. With right/wrong credit it
    is the accuracy interval shifted by the mean cost term (cost varies little next to
    correctness); otherwise a bootstrap of the per-task scores."""
    n = len(credit)
    if n == 0:
        return Interval(value=math.nan, low=math.nan, high=math.nan, n=0)
    if _binary(credit) or cost_weight == 0:
        return accuracy_interval(credit, confidence=confidence, seed=seed).shifted(
            -cost_weight * float(sum(costs)) / n
        )
    values = np.asarray(credit, dtype=float) - cost_weight * np.asarray(costs, dtype=float)
    lo, hi = _bootstrap(values, confidence, seed)
    return Interval(value=float(values.mean()), low=lo, high=hi, n=n)


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Mean of ``a[i] - b[i]`` (the same tasks, in the same order) with a paired
    percentile-bootstrap interval over tasks."""
    if len(a) != len(b):
        raise ValueError("a paired difference needs the same tasks on both sides")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0:
        return Interval(value=math.nan, low=math.nan, high=math.nan, n=0)
    lo, hi = _bootstrap(d, confidence, seed)
    return Interval(value=float(d.mean()), low=lo, high=hi, n=len(d))


@dataclass(frozen=True)
class TaskSplit(Generic[T]):
    """The tasks of a study: searched on (dev), re-checked on (confirm), held out."""

    dev: list[T]
    confirm: list[T]
    holdout: list[T]


def split_size(fraction: float, n: int) -> int:
    """Tasks a fraction of ``n`` takes (rounded half up)."""
    return math.floor(fraction * n + 0.5)


def split_tasks(
    tasks: Sequence[T], *, confirm: float = 0.0, holdout: float = 0.0, seed: int = 0
) -> TaskSplit[T]:
    """Split ``tasks`` into dev, confirmation and held-out sets by fraction.

    The tasks are shuffled with ``seed`` (equal seeds, equal splits); each set keeps
    the tasks' original order. A fraction that rounds to no task gives an empty set.
    """
    from thinktank.optimize.algorithms import derive_seed

    for name, f in (("confirm", confirm), ("holdout", holdout)):
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"--{name} takes a fraction in [0, 1) of the tasks, not {f:g}")
    items = list(tasks)
    n = len(items)
    n_hold, n_conf = split_size(holdout, n), split_size(confirm, n)
    if n_hold + n_conf >= n and (n_hold or n_conf):
        raise ConfigError(
            f"{n} tasks are too few to hold out {n_hold} and set {n_conf} aside for "
            "confirmation with a dev set left: add tasks, or lower --holdout / --confirm "
            "(0 turns a split off)"
        )
    order = list(range(n))
    random.Random(derive_seed(seed, "split")).shuffle(order)
    hold = sorted(order[:n_hold])
    conf = sorted(order[n_hold : n_hold + n_conf])
    dev = sorted(order[n_hold + n_conf :])
    return TaskSplit(
        dev=[items[i] for i in dev],
        confirm=[items[i] for i in conf],
        holdout=[items[i] for i in hold],
    )


__all__ = [
    "Interval",
    "TaskSplit",
    "accuracy_interval",
    "paired_difference",
    "score_interval",
    "split_size",
    "split_tasks",
    "z_value",
]
