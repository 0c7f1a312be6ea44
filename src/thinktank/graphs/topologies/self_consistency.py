"""``self_consistency``: majority vote over samples drawn in waves until the vote settles.

Follows self-consistency with adaptive stopping (FIELD.md, "Adaptive stopping";
Adaptive-Consistency's Beta stopping criterion): instead of always drawing
N_max samples, draw a wave, and stop as soon as the leading answer is settled.
Rules (:mod:`thinktank.graphs.stopping`): ``posterior`` — the posterior
probability that the leader is the true majority reaches ``confidence``;
``predictive`` (the default here) — the probability that the full N_max vote
would keep the leader reaches ``confidence``; ``margin`` — the leader is
``margin`` votes ahead. Easy questions stop after one or two waves; contested
ones use the whole budget. ``adaptive=False`` gives plain SC@N.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Solver
from thinktank.graphs.spec import GraphSpec, SamplingSpec
from thinktank.graphs.topologies._common import choose, finish, node_fields

RULES = ("posterior", "predictive", "margin")


def self_consistency(
    n_max: int = 16,
    *,
    adaptive: bool = True,
    wave: int = 2,
    min_samples: int = 4,
    confidence: float = 0.95,
    rule: str = "predictive",
    margin: int = 3,
    model: str = "default",
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """Up to ``n_max`` samples in waves of ``wave``; majority vote.

    Args:
        n_max: the sample budget (SC@n_max when ``adaptive=False``).
        adaptive: stop early once the vote is settled.
        wave: samples per wave.
        min_samples: never stop before this many samples.
        confidence: threshold of the ``posterior`` / ``predictive`` rules.
        rule: ``posterior``, ``predictive`` or ``margin``.
        margin: votes ahead the leader needs under the ``margin`` rule.
        model, temperature, max_tokens, tools: the solver's settings.
    """
    choose("rule", rule, RULES)
    fields = node_fields(model, temperature, max_tokens, tools)
    g = Graph(
        f"sc_{n_max}" + ("_adaptive" if adaptive else ""),
        f"Self-consistency, up to {n_max} samples" + (", adaptive stopping." if adaptive else "."),
    )
    if adaptive:
        sampling = SamplingSpec(
            mode="adaptive",
            wave=min(wave, n_max),
            min_samples=min(min_samples, n_max),
            confidence=confidence,
            rule=rule,  # type: ignore[arg-type]
            margin=margin,
        )
        g.add(Solver(**fields), n=n_max, sampling=sampling)
    else:
        g.add(Solver(**fields), n=n_max)
    g.select("vote")
    finish(
        g,
        "self_consistency",
        n_max=n_max,
        adaptive=adaptive,
        wave=wave,
        min_samples=min_samples,
        confidence=confidence,
        rule=rule,
        margin=margin,
        model=model,
    )
    return g.build()
