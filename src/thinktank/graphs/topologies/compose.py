"""Composition: layer a coordinator, verifiers, a judge or a fuser over any topology.

Each layer takes a :class:`GraphSpec` and returns a new one, so strategies stack::

    spec = with_mav(with_ceo(debate(m=3, r=3), rounds=3), k=3)

or, as a topology string, ``"debate:m=3,r=3 + ceo:rounds=3 + mav:k=3"`` (see
:func:`thinktank.graphs.topologies.topology`). Added nodes read the base graph's
candidate nodes. When the run can end before its round limit (a coordinator or
``stop_on_agreement``), selection nodes run every round, so the last round has
them whenever it comes; otherwise they run in the final round only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thinktank.errors import ConfigError
from thinktank.graphs.spec import BudgetSpec, EdgeSpec, GraphSpec, NodeSpec, SelectionSpec
from thinktank.graphs.topologies._common import aspects_for


def _fresh(spec: GraphSpec, base: str) -> str:
    taken = {n.id for n in spec.nodes}
    if base not in taken:
        return base
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


def _rebuild(spec: GraphSpec, layer: str, **changes: Any) -> GraphSpec:
    data = spec.model_dump()
    data.update(changes)
    meta = dict(data.get("metadata") or {})
    meta["layers"] = [*meta.get("layers", []), layer]
    data["metadata"] = meta
    return GraphSpec.parse_data(data)


def _first_round(spec: GraphSpec) -> int:
    early_end = spec.rounds.controller is not None or spec.rounds.stop_on_agreement is not None
    return 1 if early_end else spec.rounds.max_rounds


def _readers(
    spec: GraphSpec, nodes: list[NodeSpec], method: str, by: str | None, **sel: Any
) -> GraphSpec:
    cands = spec.candidate_nodes()
    if not cands:
        raise ConfigError(f"graph {spec.name!r} has no candidate nodes to add a {method} step to")
    edges = [*spec.edges, *(EdgeSpec(source=c, target=n.id) for n in nodes for c in cands)]
    selection = SelectionSpec(method=method, by=by, candidates=cands, **sel)
    return _rebuild(
        spec,
        method,
        nodes=[*spec.nodes, *nodes],
        edges=edges,
        selection=selection,
        name=f"{spec.name}+{method}",
    )


def with_mav(
    spec: GraphSpec, *, k: int = 3, aspects: Sequence[str] | None = None, model: str = "default"
) -> GraphSpec:
    """Add ``k`` aspect verifiers over the candidates; select by most approvals (MAV)."""
    first = _first_round(spec)
    nodes = [
        NodeSpec(
            id=_fresh(spec, f"aspect{i}"), role="verifier", model=model, aspect=a, first_round=first
        )
        for i, a in enumerate(aspects_for(k, aspects), 1)
    ]
    return _readers(spec, nodes, "mav", None)


def with_verifier(spec: GraphSpec, *, model: str = "default") -> GraphSpec:
    """Add one verifier over the candidates; select by its highest score."""
    node = NodeSpec(
        id=_fresh(spec, "verifier"), role="verifier", model=model, first_round=_first_round(spec)
    )
    return _readers(spec, [node], "verifier", node.id)


def with_judge(spec: GraphSpec, *, model: str = "default") -> GraphSpec:
    """Add a listwise judge over the candidates; select its pick."""
    node = NodeSpec(
        id=_fresh(spec, "judge"), role="judge", model=model, first_round=_first_round(spec)
    )
    return _readers(spec, [node], "judge", node.id)


def with_fuser(spec: GraphSpec, *, model: str = "default") -> GraphSpec:
    """Add a fuser over the candidates; its synthesized answer is the answer."""
    node = NodeSpec(
        id=_fresh(spec, "fuser"), role="fuser", model=model, first_round=_first_round(spec)
    )
    return _readers(spec, [node], "fuser", node.id)


def with_ceo(
    spec: GraphSpec,
    *,
    rounds: int = 3,
    model: str = "default",
    critics: int = 0,
    active: int = 1,
) -> GraphSpec:
    """Put a CEO controller over the graph (MAS-TTS); optionally a critic pool.

    The CEO reads every round and its decisions are enforced (stop, recruit,
    token budget, direction). With ``critics > 0`` a critic pool reads the candidate
    nodes and feeds back into them next round; the CEO's ``recruit`` sizes it.
    """
    if spec.rounds.controller is not None:
        raise ConfigError(
            f"graph {spec.name!r} already has a controller ({spec.rounds.controller!r})"
        )
    cands = spec.candidate_nodes()
    boss = NodeSpec(id=_fresh(spec, "ceo"), role="ceo", model=model, max_steps=2)
    nodes, edges = [*spec.nodes], [*spec.edges]
    if critics > 0:
        critic = NodeSpec(
            id=_fresh(spec, "critic"),
            role="critic",
            model=model,
            n=critics,
            active=min(active, critics),
        )
        nodes.append(critic)
        edges += [EdgeSpec(source=c, target=critic.id) for c in cands]
        edges += [EdgeSpec(source=critic.id, target=c, feedback=True) for c in cands]
    nodes.append(boss)
    max_rounds = max(spec.rounds.max_rounds, rounds)
    rounds_spec = spec.rounds.model_copy(update={"max_rounds": max_rounds, "controller": boss.id})
    return _rebuild(
        spec,
        "ceo",
        nodes=nodes,
        edges=edges,
        rounds=rounds_spec.model_dump(),
        name=f"{spec.name}+ceo",
    )


def with_budget(
    spec: GraphSpec,
    *,
    max_usd: float | None = None,
    max_tokens: int | None = None,
    max_calls: int | None = None,
    max_seconds: float | None = None,
) -> GraphSpec:
    """Set the per-task budget (``None`` keeps a limit unset)."""
    budget = BudgetSpec(
        max_usd=max_usd, max_tokens=max_tokens, max_calls=max_calls, max_seconds=max_seconds
    )
    return _rebuild(spec, "budget", budget=budget.model_dump())


def with_memory(
    spec: GraphSpec, *, k: int = 3, roles: Sequence[str] | str | None = None, on: bool = True
) -> GraphSpec:
    """Let nodes of ``roles`` (default: the answer-producing ones) read ``k`` memory items.

    Memory comes from the bank (or cheatsheet view) given at compile time; nodes of
    other roles keep their setting. ``on=False`` turns memory off for those roles.
    """
    from thinktank.graphs.spec import ANSWER_ROLES

    wanted = set(ANSWER_ROLES if roles is None else [roles] if isinstance(roles, str) else roles)
    known = {n.role for n in spec.nodes}
    if not wanted & known:
        raise ConfigError(
            f"memory roles {sorted(wanted)} match no node of graph {spec.name!r} "
            f"(its roles: {', '.join(sorted(known))})"
        )
    nodes = [
        n.model_copy(update={"memory": on, "memory_k": k}) if n.role in wanted else n
        for n in spec.nodes
    ]
    return _rebuild(spec, "memory", nodes=[n.model_dump() for n in nodes])


LAYERS: dict[str, Callable[..., GraphSpec]] = {
    "ceo": with_ceo,
    "mav": with_mav,
    "verifier": with_verifier,
    "judge": with_judge,
    "fuser": with_fuser,
    "budget": with_budget,
    "memory": with_memory,
}
"""Layers by name, for topology strings (``"debate:m=3 + ceo:rounds=3 + mav:k=3"``)."""
