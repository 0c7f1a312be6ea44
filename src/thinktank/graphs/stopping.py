"""Stopping rules for adaptive sampling (self-consistency with early stopping).

A node with ``sampling.mode == "adaptive"`` draws its samples in waves and stops
once the vote is settled, or at ``n`` samples. Three rules say "settled"
(``SamplingSpec.rule``):

* ``posterior`` — the probability that the leading answer is the true majority
  (a Beta posterior over the two leading answers, as in Adaptive-Consistency)
  reaches ``confidence``;
* ``predictive`` — the probability that the vote over all ``n`` samples would
  still pick the current leader (Dirichlet-multinomial posterior predictive over
  the samples not yet drawn) reaches ``confidence``. It targets exactly what
  early stopping gives up, agreement with the full-budget vote, so it also stops
  when the few samples left cannot plausibly overturn the leader;
* ``margin`` — the leader is ``margin`` votes ahead of the runner-up.

``predictive`` and ``margin`` also stop when the lead is larger than the samples
left (the full vote cannot change). No rule stops before ``min_samples``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any


def settled_probability(counts: list[float]) -> float:
    """Posterior probability that the leading answer is the true majority.

    Beta posterior over the two leading answers' counts (uniform prior):
    P(p1 > p2 | c1, c2) = P(Binomial(c1 + c2 + 1, 1/2) <= c1), exact for integers.
    """
    top = [*sorted((int(c) for c in counts), reverse=True), 0, 0]
    a, b = top[0] + 1, top[1] + 1
    n = a + b - 1
    return sum(math.comb(n, k) for k in range(a)) / 2**n


@lru_cache(maxsize=4096)
def keep_probability(leader: int, runner_up: int, rest: int, remaining: int) -> float:
    """Probability the leader still leads after ``remaining`` more samples.

    The answers are lumped into leader / runner-up / the rest, with a
    Dirichlet(counts + 1) posterior; the next ``remaining`` samples follow its
    Dirichlet-multinomial predictive. A final tie counts one half (tie-breaks
    usually, but not always, favour the earlier leader).
    """
    if remaining <= 0:
        return 1.0
    if leader - runner_up > remaining:
        return 1.0
    a1, a2, a3 = leader + 1, runner_up + 1, rest + 1
    m = remaining
    base = (
        math.lgamma(m + 1)
        + math.lgamma(a1 + a2 + a3)
        - math.lgamma(a1 + a2 + a3 + m)
        - math.lgamma(a1)
        - math.lgamma(a2)
        - math.lgamma(a3)
    )
    total = 0.0
    for x1 in range(m + 1):
        for x2 in range(m - x1 + 1):
            lead = (leader + x1) - (runner_up + x2)
            if lead < 0:
                continue
            x3 = m - x1 - x2
            logp = (
                base
                + math.lgamma(a1 + x1)
                - math.lgamma(x1 + 1)
                + math.lgamma(a2 + x2)
                - math.lgamma(x2 + 1)
                + math.lgamma(a3 + x3)
                - math.lgamma(x3 + 1)
            )
            total += math.exp(logp) * (1.0 if lead > 0 else 0.5)
    return min(1.0, total)


def settled(sampling: Any, counts: list[float], drawn: int, limit: int) -> tuple[bool, float]:
    """Whether an adaptive node may stop, and the rule's statistic (for the trace).

    ``sampling`` is the node's :class:`~thinktank.graphs.spec.SamplingSpec`,
    ``counts`` the vote counts of the samples drawn so far (``drawn`` of them,
    answerless ones included) and ``limit`` the most samples the node may draw.
    """
    top = [*sorted((int(c) for c in counts), reverse=True), 0, 0]
    remaining = max(0, limit - drawn)
    rule = getattr(sampling, "rule", "posterior")
    if rule == "predictive":
        stat = keep_probability(top[0], top[1], sum(top[2:]), remaining)
        ok = stat >= sampling.confidence
    elif rule == "margin":
        stat = float(top[0] - top[1])
        ok = stat >= sampling.margin or top[0] - top[1] > remaining
    else:
        stat = settled_probability(counts)
        ok = stat >= sampling.confidence
    return ok and drawn >= sampling.min_samples, stat
