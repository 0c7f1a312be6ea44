"""The checks of a :class:`~thinktank.graphs.spec.GraphSpec`: every reason it is invalid,
each placed on the field it is about (the loader turns them into file:line messages).

The graph's ``roles:`` block is declared first, so its nodes may use those roles; a
node whose role is a function path has its function imported and checked here, as is
a selection function: a path that does not import, or a function with the wrong
signature, is a problem of the graph when it is read, not of a run.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from thinktank.agents.callables import is_path
from thinktank.agents.roles import SELECTION_NEEDS, declare_role, lookup_role
from thinktank.errors import ConfigError

if TYPE_CHECKING:
    from thinktank.graphs.spec import GraphSpec

Problems = list[tuple[tuple[str | int, ...], str]]


def located_problems(spec: GraphSpec, model_aliases: set[str] | None = None) -> Problems:
    """Every reason ``spec`` is invalid, each with the path of its field."""
    from thinktank.graphs.spec import RESERVED_IDS, SELECT_METHODS

    out: list[tuple[tuple[str | int, ...], str]] = []
    ids = [n.id for n in spec.nodes]
    if not ids:
        out.append((("nodes",), "a graph needs at least one node"))
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        at = next(k for k, i in enumerate(ids) if i in dup and ids.index(i) < k)
        out.append((("nodes", at, "id"), f"duplicate node ids: {sorted(dup)}"))
    known = set(ids)
    reserved = [(k, i) for k, i in enumerate(ids) if i in RESERVED_IDS]
    if reserved:
        names = sorted(i for _, i in reserved)
        out.append((("nodes", reserved[0][0], "id"), f"node ids {names} are reserved; rename them"))
    for k, decl in enumerate(spec.roles):
        try:
            declare_role(decl)
        except ConfigError as exc:
            out.append((("roles", k), str(exc)))
    for k, n in enumerate(spec.nodes):
        try:
            played = lookup_role(n.role)
        except ConfigError as exc:
            unknown = str(exc).startswith("unknown role")
            why = f"node {n.id!r} has {exc}" if unknown else f"node {n.id!r}: {exc}"
            out.append((("nodes", k, "role"), why))
        else:
            if played.function is not None and (n.instructions or n.aspect):
                out.append(
                    (
                        ("nodes", k, "instructions" if n.instructions else "aspect"),
                        f"node {n.id!r} is a function node ({played.function}): it takes no "
                        "instructions or aspect",
                    )
                )
        if model_aliases is not None and n.model not in model_aliases and ":" not in n.model:
            out.append(
                (
                    ("nodes", k, "model"),
                    f"node {n.id!r} uses unknown model alias {n.model!r}; known aliases: {', '.join(sorted(model_aliases))}",
                )
            )
    for k, e in enumerate(spec.edges):
        for side, end in (("source", e.source), ("target", e.target)):
            if end not in known:
                out.append(
                    (
                        ("edges", k, side),
                        f"dangling edge {e.source} -> {e.target}: no node {end!r}",
                    )
                )
    if not out and _has_same_round_cycle(spec):
        out.append(
            (("edges",), "the same-round edges form a cycle; mark a back edge feedback=True")
        )
    if (
        any(e.feedback for e in spec.edges)
        and spec.rounds.max_rounds < 2
        and spec.rounds.controller is None
    ):
        out.append(
            (
                ("rounds", "max_rounds"),
                "a feedback edge (a cycle across rounds) needs rounds.max_rounds >= 2",
            )
        )
    if spec.rounds.controller is not None:
        where = ("rounds", "controller")
        c = spec.node(spec.rounds.controller) if spec.rounds.controller in known else None
        if c is None:
            out.append((where, f"rounds.controller {spec.rounds.controller!r} is not a node"))
        elif c.does != "decide":
            out.append(
                (
                    where,
                    f"rounds.controller {c.id!r} must have role 'ceo' (or another role that "
                    f"decides), not {c.role!r}",
                )
            )
    sel = spec.selection
    if sel.method not in SELECT_METHODS:
        out += selection_function_problems(sel.method)
    for k, cid in enumerate(sel.candidates):
        if cid not in known:
            out.append(
                (("selection", "candidates", k), f"selection candidate {cid!r} is not a node")
            )
    if not spec.candidate_nodes() and sel.method not in ("ceo",):
        out.append(
            (
                ("selection",),
                "the selection step has no candidates: add a solver/refiner/fuser/debater node or list selection.candidates",
            )
        )
    if sel.method in SELECTION_NEEDS:
        act = SELECTION_NEEDS[sel.method]
        role = sel.method if sel.method in ("judge", "fuser") else "verifier"
        by = sel.by or next((n.id for n in spec.nodes if n.does == act), None)
        if by is None or by not in known:
            out.append(
                (
                    ("selection", "by" if sel.by else "method"),
                    f"selection method {sel.method!r} needs a {role} node (selection.by)",
                )
            )
        elif (does := spec.node(by).does) != act:
            out.append(
                (
                    ("selection", "by"),
                    f"selection method {sel.method!r} goes by a node that does {act!r}, but "
                    f"{by!r} does {does!r}: select by another node, or declare what it does "
                    "(@node(does=...) on a function, or a roles: entry with does:)",
                )
            )
    return out


def selection_function_problems(method: str) -> list[tuple[tuple[str | int, ...], str]]:
    where: tuple[str | int, ...] = ("selection", "method")
    if not is_path(method):
        from thinktank.graphs.spec import SELECT_METHODS

        return [
            (
                where,
                f"unknown selection method {method!r}; valid methods: "
                f"{', '.join(SELECT_METHODS)}, or a selection function 'module:function'",
            )
        ]
    from thinktank.graphs.functions import check_selection

    try:
        check_selection(method)
    except ConfigError as exc:
        return [(where, str(exc))]
    return []


def _has_same_round_cycle(spec: GraphSpec) -> bool:
    graph: dict[str, list[str]] = defaultdict(list)
    for e in spec.edges:
        if not e.feedback:
            graph[e.source].append(e.target)
    state: dict[str, int] = {}

    def visit(u: str) -> bool:
        state[u] = 1
        for v in graph[u]:
            if state.get(v) == 1 or (v not in state and visit(v)):
                return True
        state[u] = 2
        return False

    return any(visit(n.id) for n in spec.nodes if n.id not in state)
