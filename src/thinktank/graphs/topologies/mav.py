"""``mav``: multi-agent verification — k aspect verifiers vote on every candidate.

Follows Multi-Agent Verification (FIELD.md, "Verification"): off-the-shelf LLMs
act as *aspect verifiers*, each checking one aspect of a solution (the final
answer's form, the arithmetic, the logic, …) and approving or rejecting every
candidate; the candidate with the most approvals wins. Scaling the number of
verifiers is a second axis of test-time compute next to the number of samples.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktank.graphs.builder import Graph, Solver, Verifier
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies._common import aspects_for, finish, node_fields


def mav(
    n: int = 8,
    k: int = 3,
    *,
    aspects: Sequence[str] | None = None,
    model: str = "default",
    verifier_model: str | None = None,
    temperature: float | None = 0.8,
    max_tokens: int | None = None,
    tools: Sequence[str] = (),
) -> GraphSpec:
    """``n`` solver samples, each checked by ``k`` aspect verifiers; most approvals wins.

    Args:
        n: solver samples.
        k: aspect verifiers (the first ``k`` default aspects unless ``aspects`` is given).
        aspects: the aspects to check, one verifier node each.
        model: solver model alias; ``verifier_model`` defaults to it.
        temperature, max_tokens, tools: the solver's settings.
    """
    chosen = aspects_for(k, aspects)
    g = Graph(f"mav_{n}x{len(chosen)}", f"{n} samples, {len(chosen)} aspect verifiers (MAV).")
    s = g.add(Solver(**node_fields(model, temperature, max_tokens, tools)), n=n)
    for i, aspect in enumerate(chosen, 1):
        v = g.add(Verifier(model=verifier_model or model, aspect=aspect), id=f"aspect{i}")
        g.connect(s, v)
    g.select("mav")
    finish(g, "mav", n=n, k=len(chosen), aspects=chosen, model=model)
    return g.build()
