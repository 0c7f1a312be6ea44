"""``model_switch``: a cascade of models — stop at the first one whose samples agree.

Follows ModelSwitch (FIELD.md, "Symbolic mixture of experts / model routing"):
sample ``n`` answers from the cheapest model; if they agree (the top answer has at
least ``agreement`` of the votes) stop there; otherwise switch to the next model,
and so on. Agreement is a cheap, label-free signal of correctness, so easy items
cost only the cheap model's samples. Each stage is a solver node reading the
previous one through a ``when="disagree"`` edge (it is skipped when the previous
stage agreed, and sees its answers when it runs); selection ``last`` votes among
the last stage that ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.errors import ConfigError
from thinktank.graphs.builder import Graph, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import finish, node_fields


def model_switch(
    models: Sequence[str] = ("cheap", "strong"),
    n: int = 4,
    *,
    agreement: float = 1.0,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """A cascade over ``models`` (cheapest first), ``n`` samples each.

    Args:
        models: model aliases in escalation order (compile with a mapping naming them).
        n: samples per stage.
        agreement: share of votes the top answer needs for a stage to stop the cascade.
        temperature, max_tokens, tools: every stage's settings.
    """
    if isinstance(models, str):
        models = [models]
    if not models:
        raise ConfigError("model_switch needs at least one model alias")
    g = Graph(f"model_switch_{len(models)}", "Cascade: " + " -> ".join(models) + ".")
    prev: str | None = None
    for i, alias in enumerate(models, 1):
        node = g.add(
            Solver(**node_fields(alias, temperature, max_tokens, tools)), id=f"stage{i}", n=n
        )
        if prev is not None:
            g.connect(prev, node, when="disagree", agreement=agreement)
        prev = node
    g.select("last")
    finish(g, "model_switch", models=list(models), n=n, agreement=agreement)
    return g.build()
