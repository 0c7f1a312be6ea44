"""Aggregates of a run's records: accuracy with Wilson intervals, cost, tokens,
latency percentiles, pass@k and the selection gap (:mod:`.selection`), per graph.

Accuracy is over *judged* records (finished tasks, whatever their answer); ``error``
records (the run or its evaluation failed) are counted apart, because they say
something about the infrastructure, not the graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from thinktank.evals.reports.selection import SelectionGap, selection_gap
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.tasks.passk import mean_pass_at_k


def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) for n = 0.

    Unlike the normal approximation it stays inside [0, 1] and is sensible for
    small ``n`` and proportions near 0 or 1.
    """
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if correct <= 0 else max(0.0, centre - half)
    high = 1.0 if correct >= n else min(1.0, centre + half)
    return low, high


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; ``None`` for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class GraphStats(BaseModel):
    """Everything the report says about one graph."""

    label: str
    family: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    records: int = 0
    judged: int = 0
    correct: int = 0
    errors: int = 0
    accuracy: float | None = None
    ci_low: float = 0.0
    ci_high: float = 1.0
    cost_total: float = 0.0
    cost_mean: float = 0.0
    tokens_total: int = 0
    tokens_mean: float = 0.0
    calls_mean: float = 0.0
    samples_mean: float = 0.0
    latency_p50: float | None = None
    latency_p95: float | None = None
    statuses: dict[str, int] = Field(default_factory=dict)
    truncated: int = 0
    """Records a budget cut short (samples refused): the graph did not run as specified."""
    pass_at_k: dict[int, float] = Field(default_factory=dict)
    """pass@k over tasks with at least k judged candidates (k = 1, 2, 4, …)."""
    selection: SelectionGap | None = None
    """mean@1, selected, oracle@k and the selector's efficiency (tasks whose candidates
    were judged one by one)."""
    oracle: bool = False
    """The graph read memory learned with the suite's labels (an oracle result)."""


def _ks(max_n: int) -> list[int]:
    out, k = [], 1
    while k <= max_n:
        out.append(k)
        k *= 2
    if max_n > 1 and out[-1] != max_n:
        out.append(max_n)
    return out


def graph_stats(
    records: Iterable[TaskRecord], graphs: Sequence[GraphEntry] = ()
) -> list[GraphStats]:
    """Per-graph aggregates, in the order of ``graphs`` (then any other labels seen)."""
    by: dict[str, list[TaskRecord]] = {g.label: [] for g in graphs}
    for r in records:
        by.setdefault(r.graph, []).append(r)
    meta = {g.label: g for g in graphs}
    out = []
    for label, recs in by.items():
        g = meta.get(label)
        s = GraphStats(label=label, family=g.family if g else label, params=g.params if g else {})
        s.records = len(recs)
        done = [r for r in recs if r.status != "error"]
        s.errors = len(recs) - len(done)
        judged = [r for r in done if r.correct is not None]
        s.judged, s.correct = len(judged), sum(bool(r.correct) for r in judged)
        if s.judged:
            s.accuracy = s.correct / s.judged
        s.ci_low, s.ci_high = wilson(s.correct, s.judged)
        for r in recs:
            s.statuses[r.status] = s.statuses.get(r.status, 0) + 1
        s.truncated = sum(r.truncated for r in done)
        if done:
            s.cost_total = sum(r.cost for r in done)
            s.cost_mean = s.cost_total / len(done)
            s.tokens_total = sum(r.tokens for r in done)
            s.tokens_mean = s.tokens_total / len(done)
            s.calls_mean = sum(r.calls for r in done) / len(done)
            s.samples_mean = sum(r.samples for r in done) / len(done)
            lat = [r.latency_s for r in done]
            s.latency_p50, s.latency_p95 = percentile(lat, 0.5), percentile(lat, 0.95)
        s.pass_at_k = pass_at_ks(done)
        s.selection = selection_gap(done)
        out.append(s)
    return out


def pass_at_ks(records: Iterable[TaskRecord]) -> dict[int, float]:
    """pass@k for k = 1, 2, 4, … up to the most judged candidates any task has."""
    pairs = [(len(r.sample_correct), sum(r.sample_correct)) for r in records if r.sample_correct]
    if not pairs:
        return {}
    return {
        k: mean_pass_at_k([(n, c) for n, c in pairs if n >= k], k)
        for k in _ks(max(n for n, _ in pairs))
    }


def oracle_label(s: GraphStats) -> str:
    """The graph's label, flagged when its memory was learned with the labels (oracle):
    every table that shows its results says so."""
    return s.label + (" (oracle memory)" if s.oracle else "")


def fmt_label(s: GraphStats) -> str:
    """:func:`oracle_label`, also flagged when a budget truncated some of its tasks."""
    return oracle_label(s) + (f" ({s.truncated} truncated)" if s.truncated else "")


def fmt_ci(s: GraphStats) -> str:
    """``"62.5% [40.9–80.0]"`` (or ``"–"`` with nothing judged)."""
    if s.accuracy is None:
        return "–"
    return f"{s.accuracy:.1%} [{s.ci_low:.1%}–{s.ci_high:.1%}]"


def fmt_s(x: float | None) -> str:
    return "–" if x is None else (f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s")


def fmt_usd(x: float) -> str:
    return f"${x:.4f}" if x < 1 else f"${x:.2f}"
