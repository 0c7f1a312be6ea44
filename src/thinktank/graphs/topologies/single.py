"""``single``: one solver, one sample — the baseline every comparison needs.

Follows no scaling method on purpose: it is the zero point of every test-time
scaling curve (FIELD.md, "Parallel sampling and selection"), the cost and
accuracy the other topologies must beat at equal compute.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import finish, node_fields


def single(
    *,
    model: str = "default",
    temperature: float | None = None,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
    memory: bool = False,
) -> GraphSpec:
    """One solver sample; its answer is the answer.

    Args:
        model: model alias of the solver.
        temperature: sampling temperature (``None``: the model's default).
        max_tokens: completion limit per call.
        tools: names of injected tools the solver may call.
        memory: retrieve memory items into the solver's prompt.
    """
    g = Graph("single", "One solver sample (baseline).")
    g.add(Solver(**node_fields(model, temperature, max_tokens, tools), memory=memory))
    g.select("vote")
    finish(g, "single", model=model, temperature=temperature, max_tokens=max_tokens)
    return g.build()
