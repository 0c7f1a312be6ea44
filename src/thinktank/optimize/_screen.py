"""Model-screened proposals: draw several graphs from the sampler's distribution and
evaluate the one the incumbent's model expects most from.

REINFORCE learns a distribution over graphs one noisy batch at a time; the model of
:mod:`thinktank.optimize.estimate` already knows, from every graph evaluated, which
unevaluated graphs are likely good. With ``ReinforceConfig.screen = M`` (32 by default)
every ``screen_every``-th proposal (every other one by default) draws ``M`` graphs from
the current distribution (the same exploration mix), drops the invalid and already
evaluated ones, and proposes the one of highest *expected improvement* over the
incumbent's estimated score (the model's mean and uncertainty at that graph: a likely
good graph, or an unsure one that might be much better). The other proposals are plain
draws: the model, like any, can be wrong about a region it has seen little of (a
combination that pays only with the right partner), and screening every proposal
measurably got stuck more often on such a landscape (``tests/optimize/noisy_space.py``).
The distribution still learns from every evaluated graph's score. Proposals stay
reproducible: the draws are seeded by the study seed and the proposal's index, and the
model depends only on the trials so far. The model needs ``incumbent: estimate`` and
``startup_trials`` graphs before it screens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from thinktank.optimize.algorithms import derive_seed
from thinktank.optimize.decode import assign, build
from thinktank.optimize.store import graph_key

if TYPE_CHECKING:
    from thinktank.optimize._loop import Loop
    from thinktank.optimize.reinforce import Policy

T = TypeVar("T")


class PolicyChooser:
    """Draws each dimension from a REINFORCE distribution (with its exploration mix)."""

    def __init__(self, policy: Policy, explore: float, rng: random.Random, edges: int) -> None:
        self.policy, self.explore, self.rng = policy, explore, rng
        self.edges = random.Random(edges)

    def choose(self, name: str, options: Sequence[Any]) -> Any:
        k = len(options)
        if name in self.policy.dims and len(self.policy.dims[name]) == k:
            probs = self.policy.probs(name)
        else:
            probs = [1.0 / k] * k
        u, acc = self.rng.random(), 0.0
        for option, p in zip(options, probs, strict=True):
            acc += (1 - self.explore) * p + self.explore / k
            if u < acc:
                return option
        return options[-1]

    def order(self, items: list[T]) -> list[T]:
        out = list(items)
        self.edges.shuffle(out)  # as the study's chooser orders them for this proposal
        return out


def expected_improvement(mu: float, sd: float, best: float) -> float:
    if sd <= 1e-12:
        return max(mu - best, 0.0)
    z = (mu - best) / sd
    cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (mu - best) * cdf + sd * pdf


def screened(loop: Loop, index: int) -> dict[str, Any] | None:
    """The params of the screened proposal for ``index`` (``None``: propose as usual —
    too few graphs for the model, or no new valid graph among the draws)."""
    c, tracker, sampler = loop.c, loop.tracker, loop.samplers.reinforce
    draws = c.reinforce.screen
    if not draws or sampler is None or tracker.mode != "estimate" or tracker.fit is None:
        return None
    if len(tracker.estimator) < c.startup_trials:
        return None
    if index % c.reinforce.screen_every:
        return None
    policy = sampler.policy(loop.study)
    rng = random.Random(derive_seed(c.seed, index, "screen"))
    edges = derive_seed(c.seed, index, "edges")
    cost = loop.est.expected if loop.est.ratio is not None else loop.est.per_task
    found: dict[str, tuple[dict[str, Any], float]] = {}
    for _ in range(draws):
        a = assign(loop.space, PolicyChooser(policy, c.reinforce.explore, rng, edges))
        d = build(loop.space, a, task_cost=cost)
        if d.spec is None or d.key is None:
            continue
        gkey = graph_key(d.key, loop.fp)
        if gkey in loop.evaluated or gkey in found:
            continue
        found[gkey] = (a.params, c.cost_weight * loop.est.per_task(d.spec))
    if not found:
        return None
    points = list(found.values())
    mu, sd = tracker.estimator.predict([p for p, _ in points], tracker.hyper)
    inc = tracker.incumbent()
    best = tracker.score(inc.key or "") if inc is not None else float(max(mu))
    gains = [
        expected_improvement(float(m) - term, float(s), best)
        for m, s, (_, term) in zip(mu, sd, points, strict=True)
    ]
    return points[max(range(len(points)), key=gains.__getitem__)][0]


__all__ = ["PolicyChooser", "expected_improvement", "screened"]
