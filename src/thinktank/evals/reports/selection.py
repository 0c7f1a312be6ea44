"""The selection gap of a graph: were the samples wrong, or did selection miss a right one?

For every judged task whose final candidates were judged one by one
(:attr:`~thinktank.evals.runs.run_types.TaskRecord.sample_correct`):

* **mean@1** — the share of its candidates that are right (what one sample gives);
* **selected** — whether the answer the graph selected is right;
* **oracle@k** — whether any of its ``k`` candidates is right (what a perfect selector
  would give);
* **efficiency** = (selected − mean@1) / (oracle@k − mean@1): 0 is no better than
  picking a candidate at random, 1 is a perfect selector, below 0 is worse than random.
  Undefined when oracle@k equals mean@1 (every task's candidates all agree in
  correctness: nothing to select).

Each figure is the mean over tasks, with a 95% percentile-bootstrap interval over
tasks (paired: one resample draws the three figures of the same tasks, so the
efficiency interval accounts for their correlation).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel

from thinktank.evals.runs.run_types import TaskRecord

RESAMPLES = 2000


class Estimate(BaseModel):
    """A mean over tasks with its 95% bootstrap interval."""

    value: float
    low: float
    high: float

    def fmt(self, pct: bool = True) -> str:
        f = (lambda x: f"{x:.1%}") if pct else (lambda x: f"{x:.2f}")
        return f"{f(self.value)} [{f(self.low)}–{f(self.high)}]"


class SelectionGap(BaseModel):
    """One graph's selection figures (see the module docstring)."""

    tasks: int
    """Tasks counted: judged, with every final candidate judged."""
    candidates_mean: float
    """Mean number of final candidates per task (the k of oracle@k)."""
    mean: Estimate
    selected: Estimate
    oracle: Estimate
    efficiency: Estimate | None
    """``None`` when oracle@k equals mean@1 on the tasks counted."""


NOTE = (
    "Per task: mean@1 = share of its candidates that are right, selected = the graph's "
    "answer is right, oracle@k = some candidate is right; efficiency = (selected − mean@1) "
    "/ (oracle@k − mean@1): 0 is a random pick, 1 a perfect selector. Means over tasks "
    "whose candidates were all judged, with 95% bootstrap intervals."
)
HEADERS = ["tasks", "k", "mean@1", "selected", "oracle@k", "efficiency"]


def selection_rows(
    gaps: Iterable[tuple[str, SelectionGap | None]],
) -> list[tuple[str, list[str]]]:
    """Report cells per graph label (graphs with more than one candidate per task)."""
    out = []
    for label, g in gaps:
        if g is None or g.candidates_mean <= 1:
            continue
        eff = g.efficiency.fmt(pct=False) if g.efficiency else "– (no gap)"
        cells = [str(g.tasks), f"{g.candidates_mean:.1f}", g.mean.fmt(), g.selected.fmt()]
        out.append((label, [*cells, g.oracle.fmt(), eff]))
    return out


def _interval(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def selection_gap(
    records: Iterable[TaskRecord], *, resamples: int = RESAMPLES, seed: int = 0
) -> SelectionGap | None:
    """The selection figures of one graph's records (``None`` when no task qualifies)."""
    judged = [
        (r.sample_correct, bool(r.correct))
        for r in records
        if r.sample_correct and r.correct is not None and r.status != "error"
    ]
    if not judged:
        return None
    k = sum(len(c) for c, _ in judged) / len(judged)
    # columns: mean@1, selected, oracle@k
    data = np.array([(sum(c) / len(c), sel, any(c)) for c, sel in judged], dtype=float)
    n = len(data)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    boot = data[idx].mean(axis=1)  # resamples × 3
    point = data.mean(axis=0)
    est = [
        Estimate(value=float(point[j]), low=_interval(boot[:, j])[0], high=_interval(boot[:, j])[1])
        for j in range(3)
    ]
    efficiency = None
    gap = point[2] - point[0]
    if gap > 1e-12:
        denom = boot[:, 2] - boot[:, 0]
        ok = denom > 1e-12
        eff = (boot[ok, 1] - boot[ok, 0]) / denom[ok]
        lo, hi = _interval(eff) if len(eff) else (float("nan"), float("nan"))
        efficiency = Estimate(value=float((point[1] - point[0]) / gap), low=lo, high=hi)
    return SelectionGap(
        tasks=n, candidates_mean=k, mean=est[0], selected=est[1], oracle=est[2],
        efficiency=efficiency,
    )  # fmt: skip
