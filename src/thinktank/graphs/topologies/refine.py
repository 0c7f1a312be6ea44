"""``refine``: sample k; vote when they agree; review and refine only when they do not.

Follows MAgICoRe (FIELD.md, "Solver → reviewer → refiner"): problems are split
by difficulty on the fly. Round 1 draws ``k`` solver samples; when they agree
(the top answer has at least ``agreement`` of the votes) the item is easy and the
run ends with their vote. Otherwise a critic (the reviewer) reads the solutions
and writes targeted feedback, and ``k`` refiners each revise one solution with it
(round 2). Each later round reviews and refines the previous refinements, until
they agree or ``iterations`` rounds of refinement are spent.

Wiring: the critic and refiner start in round 2; the critic's edges carry
``when="disagree"`` so it (and with it the refiner) is skipped whenever the
solutions it would review agree, and ``rounds.stop_on_agreement`` ends the run
as soon as a round's answers agree. The critic reads the original samples and
the latest refinements; each refiner revises its own previous version. The
final answer is a vote over the latest stage that ran (``last``).
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Critic, Graph, Refiner, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import finish, node_fields


def refine(
    k: int = 4,
    iterations: int = 2,
    *,
    agreement: float = 0.75,
    model: str = "default",
    critic_model: str | None = None,
    refiner_model: str | None = None,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``k`` samples; hard (disagreeing) items get up to ``iterations`` review-refine rounds.

    Args:
        k: solver samples (and refiners, one per solution).
        iterations: review-and-refine rounds at most (the run has ``iterations + 1`` rounds).
        agreement: share of votes the top answer needs for the samples to "agree".
        model: solver model alias; ``critic_model`` / ``refiner_model`` default to it.
        temperature, max_tokens, tools: the solver's settings.
    """
    g = Graph(f"refine_{k}x{iterations}", f"MAgICoRe-style: {k} samples, refine if they disagree.")
    s = g.add(Solver(**node_fields(model, temperature, max_tokens, tools)), n=k, last_round=1)
    if iterations > 0:
        c = g.add(Critic(model=critic_model or model, first_round=2))
        r = g.add(
            Refiner(model=refiner_model or model, max_tokens=max_tokens, tools=list(tools)),
            n=k,
            first_round=2,
        )
        # edge order matters: a refiner revises the first answers it is shown, so its own
        # previous version comes before the original samples
        g.connect(r, c, feedback=True, when="disagree", agreement=agreement)
        g.connect(s, c, feedback=True, when="disagree", agreement=agreement)
        g.connect(r, r, feedback=True)
        g.connect(c, r)
        g.connect(s, r, feedback=True)
    g.rounds(iterations + 1, stop_on_agreement=agreement)
    g.select("last")
    finish(g, "refine", k=k, iterations=iterations, agreement=agreement, model=model)
    return g.build()
