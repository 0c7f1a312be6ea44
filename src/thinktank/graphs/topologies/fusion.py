"""``fusion``: N samples, then a fuser writes one answer from all of them.

Follows FusioN (FIELD.md, "Parallel sampling and selection"): instead of picking
one of the N candidates, a fuser (a judge that writes) reads them all and
synthesizes a single answer that keeps what they got right and settles where
they disagree. It can be right when no single candidate is.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Fuser, Graph, Solver
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import finish, node_fields


def fusion(
    n: int = 8,
    *,
    model: str = "default",
    fuser_model: str | None = None,
    fusers: int = 1,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``n`` solver samples fused into one answer.

    Args:
        n: solver samples.
        model: solver model alias; ``fuser_model`` defaults to it.
        fusers: fuser samples (their answers are voted on when more than one).
        temperature, max_tokens, tools: the solvers' settings.
    """
    g = Graph(f"fusion_{n}", f"{n} samples fused into one answer (FusioN).")
    s = g.add(Solver(**node_fields(model, temperature, max_tokens, tools)), n=n)
    f = g.add(Fuser(model=fuser_model or model), n=fusers)
    g.connect(s, f)
    g.select("fuser", by=f)
    finish(g, "fusion", n=n, fusers=fusers, model=model)
    return g.build()
