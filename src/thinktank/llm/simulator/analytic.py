"""Exact expected accuracies of simple strategies on one synthetic question.

For a question a solver gets right with probability ``p`` and whose wrong samples
split over wrong answers with ``shares`` (the distractor first), these are the values
the simulator's draws converge to. Tests check simulated runs against them
(``tests/llm/test_simulator_realism.py``); benchmarks use them as landscapes.

* :func:`vote_accuracy` — a plurality vote of ``n`` samples (ties split evenly);
* :func:`best_of_n_accuracy` — the top-scored of ``n`` samples, one verifier call
  each, the verifier's blind spot shared by samples with the same answer;
* :func:`judge_accuracy` — a listwise judge over ``n`` samples;
* :func:`verifier_rates` — TPR and FPR on a question of a given difficulty.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

from thinktank.llm.simulator.synthetic import discrimination, toward_chance


def wrong_shares(k: int = 3, distractor_share: float | None = 0.6) -> tuple[float, ...]:
    """How a question's wrong samples split over its ``k`` wrong answers (distractor first)."""
    if k < 1:
        raise ValueError("a question needs at least one wrong answer")
    if distractor_share is None or k == 1:
        return tuple([1.0 / k] * k)
    rest = (1.0 - distractor_share) / (k - 1)
    return (distractor_share, *([rest] * (k - 1)))


def verifier_rates(
    p: float, tpr: float = 0.9, fpr: float = 0.1, difficulty: float = 0.6
) -> tuple[float, float]:
    """(TPR, FPR) of a verifier whose model solves the question with probability ``p``."""
    return toward_chance(tpr, fpr, discrimination(p, difficulty))


def _compositions(n: int, parts: int) -> list[tuple[int, ...]]:
    """Every way to write ``n`` as an ordered sum of ``parts`` non-negative integers."""
    out = []
    for cuts in itertools.combinations(range(n + parts - 1), parts - 1):
        edges = (-1, *cuts, n + parts - 1)
        out.append(tuple(edges[i + 1] - edges[i] - 1 for i in range(parts)))
    return out


@lru_cache(maxsize=100_000)
def vote_accuracy(p: float, shares: tuple[float, ...], n: int) -> float:
    """P(the right answer wins a plurality vote of ``n`` samples), a tie split evenly
    among the tied answers (the expectation under a random tie-break)."""
    probs = (p, *((1.0 - p) * s for s in shares))
    total = 0.0
    for counts in _compositions(n, len(probs)):
        c = counts[0]
        if c == 0:
            continue
        top = max(counts)
        if c < top:
            continue
        ways = math.factorial(n)
        prob = 1.0
        for m, q in zip(counts, probs, strict=True):
            ways //= math.factorial(m)
            prob *= q**m
        total += ways * prob / counts.count(top)
    return total


@lru_cache(maxsize=100_000)
def best_of_n_accuracy(
    p: float,
    shares: tuple[float, ...],
    n: int,
    tpr: float,
    fpr: float,
    blind_spot: float,
    calls: int = 1,
) -> float:
    """P(the top-scored of ``n`` samples is right) with one verifier call per sample.

    A call accepts a right answer with ``tpr`` and a wrong one with ``fpr``; accepted
    answers score above rejected ones, ties broken at random. With probability
    ``blind_spot`` an answer is in the verifiers' blind spot: every call on it gives one
    shared verdict. Conditioned on each answer's state (shared accept, shared reject or
    free), samples are independent, so the pick is uniform among the accepted ones, or
    among all when none is accepted. With ``calls`` > 1 each sample gets that many calls
    and counts as accepted when most of them accept (outside the blind spot they are
    independent; inside they agree): the majority rule, close to (not the same as)
    ranking by mean score.
    """
    cats = [(p, tpr, True), *(((1.0 - p) * s, fpr, False) for s in shares)]
    combos = [(1.0, 0.0, 0.0)]  # (weight, P(a sample is right and accepted), ... wrong ...)
    for q, r, right in cats:
        free = _majority(r, calls) if calls > 1 else r
        options = [
            (w, q * acc)
            for w, acc in (
                (blind_spot * r, 1.0),
                (blind_spot * (1 - r), 0.0),
                (1 - blind_spot, free),
            )
            if w > 0.0
        ]
        combos = [
            (w * wo, a + add, b) if right else (w * wo, a, b + add)
            for w, a, b in combos
            for wo, add in options
        ]
    total = 0.0
    for weight, a, b in combos:
        none = 1.0 - a - b  # P(a sample is rejected)
        chosen = (1.0 - none**n) * a / (a + b) if a + b > 0 else 0.0
        if none > 1e-15:
            chosen += none**n * (p - a) / none
        total += weight * chosen
    return total


def _majority(rate: float, calls: int) -> float:
    """P(most of ``calls`` independent verdicts accept), a tie counted as half."""
    total = 0.0
    for k in range(calls + 1):
        pk = math.comb(calls, k) * rate**k * (1 - rate) ** (calls - k)
        total += pk if 2 * k > calls else pk / 2 if 2 * k == calls else 0.0
    return total


def judge_accuracy(p: float, n: int, accuracy: float = 0.8, g: float = 1.0) -> float:
    """P(a listwise judge picks a right one of ``n`` samples): it picks a right one, when
    there is one, with ``accuracy`` moved toward chance (the share right) by ``1 - g``."""
    total = 0.0
    for c in range(1, n + 1):
        chance = c / n
        total += math.comb(n, c) * p**c * (1 - p) ** (n - c) * (chance + (accuracy - chance) * g)
    return total
