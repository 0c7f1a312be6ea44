"""From a point of a :class:`~thinktank.optimize.space.SearchSpace` to a GraphSpec.

:func:`assign` walks the space's dimensions in a fixed order and asks a *chooser*
for each one with more than one option (define-by-run, so a node's settings are
only asked for when the node is present, and an edge only when both of its ends
are). Edges are visited in the chooser's order and an edge that would close a
same-round cycle is skipped, never proposed — the cycle-safe sampling of GPTSwarm.
:func:`build` turns the assignment into a :class:`~thinktank.graphs.spec.GraphSpec`,
or a rejection that says why (a reader node that reads nothing, two coordinators,
a constraint broken, anything :meth:`GraphSpec.problems` finds).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from thinktank.agents.roles import BUILT_IN, is_function, role_does
from thinktank.errors import ConfigError
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec
from thinktank.optimize.space import NEEDS_ACT, READERS, SELECTORS, EdgeChoice, SearchSpace

T = TypeVar("T")
NODE_DIMS = ("role", "n", "model", "temperature", "memory", "copies")


class Chooser(Protocol):
    """Picks the value of each searched dimension (an algorithm, a replay, a walk)."""

    def choose(self, name: str, options: Sequence[Any]) -> Any: ...

    def order(self, items: list[T]) -> list[T]: ...


@dataclass
class Assignment:
    """A point of the space: every dimension's value, and the ones that were chosen."""

    values: dict[str, Any] = field(default_factory=dict)
    """Every dimension that applies (fixed, forced and chosen ones)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Only the dimensions a chooser picked (what an algorithm learns from)."""
    notes: list[str] = field(default_factory=list)
    """Decisions made for the chooser (a role switched on, an edge skipped)."""


@dataclass
class Decoded:
    """A valid graph, or the reason there is none."""

    assignment: Assignment
    spec: GraphSpec | None = None
    reason: str | None = None
    key: str | None = None
    """:func:`spec_key` of the graph (evaluations are cached under it)."""


def spec_key(spec: GraphSpec) -> str:
    """A hash of what a graph does (name, description and metadata left out)."""
    data = spec.model_dump(mode="json", exclude={"name", "description", "metadata"})
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --- choosers --------------------------------------------------------------------------


class RandomChooser:
    """Uniform choices from a seeded RNG (random search, the baseline)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choose(self, name: str, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def order(self, items: list[T]) -> list[T]:
        out = list(items)
        self.rng.shuffle(out)
        return out


class ReplayChooser:
    """Replays recorded ``params``; a dimension not recorded takes its first option."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def choose(self, name: str, options: Sequence[Any]) -> Any:
        value = self.params.get(name, options[0])
        if value not in options:
            raise ConfigError(f"recorded value {value!r} of {name!r} is not one of {list(options)}")
        return value

    def order(self, items: list[T]) -> list[T]:
        return list(items)


class _PathChooser:
    """Follows a path of option indices, then first options; records the branching."""

    def __init__(self, path: list[int]) -> None:
        self.path = path
        self.widths: list[int] = []

    def choose(self, name: str, options: Sequence[Any]) -> Any:
        i = len(self.widths)
        self.widths.append(len(options))
        return options[self.path[i] if i < len(self.path) else 0]

    def order(self, items: list[T]) -> list[T]:
        return list(items)


def iter_assignments(space: SearchSpace, limit: int | None = None) -> Iterator[Assignment]:
    """Every point of a (bound) space once, depth first; stops after ``limit`` points."""
    stack: list[list[int]] = [[]]
    count = 0
    while stack:
        path = stack.pop()
        ch = _PathChooser(path)
        a = assign(space, ch)
        yield a
        count += 1
        if limit is not None and count >= limit:
            return
        full = path + [0] * (len(ch.widths) - len(path))
        for j in range(len(ch.widths) - 1, len(path) - 1, -1):
            for k in range(ch.widths[j] - 1, 0, -1):
                stack.append([*full[:j], k])


# --- assignment ------------------------------------------------------------------------


def _closes_cycle(edges: list[EdgeChoice], new: EdgeChoice) -> bool:
    """Whether adding same-round edge ``new`` to ``edges`` makes a same-round cycle."""
    if new.source == new.target:
        return True
    graph: dict[str, list[str]] = {}
    for e in edges:
        if not e.feedback:
            graph.setdefault(e.source, []).append(e.target)
    seen, todo = set(), [new.target]
    while todo:
        u = todo.pop()
        if u == new.source:
            return True
        if u not in seen:
            seen.add(u)
            todo += graph.get(u, [])
    return False


def assign(space: SearchSpace, chooser: Chooser) -> Assignment:
    """Walk the dimensions of a bound space, asking ``chooser`` for every open one."""
    a = Assignment()

    def pick(name: str, options: Sequence[Any]) -> Any:
        value = options[0] if len(options) == 1 else chooser.choose(name, list(options))
        if len(options) > 1:
            a.params[name] = value
        a.values[name] = value
        return value

    method = pick("selection", space.selection)
    pick("rounds", space.rounds)
    pick("stop_on_agreement", space.stop_on_agreement)
    need = NEEDS_ACT.get(method)
    forced = next(
        (n.id for n in space.nodes if n.can(need) and True in n.present),
        next((n.id for n in space.nodes if n.can(need)), None),
    )
    present: set[str] = set()
    for node in space.nodes:
        if node.id == forced:
            a.values[f"{node.id}.present"] = True
            if len(node.present) > 1:
                a.notes.append(f"{node.id} is on because selection is {method!r}")
            on = True
        else:
            on = bool(pick(f"{node.id}.present", node.present))
        if not on:
            continue
        present.add(node.id)
        options = node.option_lists()
        for dim in NODE_DIMS:
            pick(f"{node.id}.{dim}", options[dim])
    live = [e for e in space.edges if e.source in present and e.target in present]
    on_edges = [e for e in live if not e.optional]
    for e in on_edges:
        a.values[e.key] = True
    for e in chooser.order([e for e in live if e.optional]):
        if not e.feedback and _closes_cycle(on_edges, e):
            a.values[e.key] = False
            a.notes.append(f"{e.key} skipped: it would close a same-round cycle")
            continue
        if pick(e.key, [False, True]):
            on_edges.append(e)
    return a


# --- building --------------------------------------------------------------------------


def _ids(node_id: str, copies: int) -> list[str]:
    return [node_id if i == 0 else f"{node_id}{i + 1}" for i in range(copies)]


def nominal_calls(spec: GraphSpec) -> int:
    """Model calls one task takes when every agent answers in one step (no tools, no repairs)."""
    by_id = {n.id: n for n in spec.nodes}
    total = 0
    for r in range(1, spec.rounds.max_rounds + 1):
        for node in spec.nodes:
            if node.first_round > r or (node.last_round is not None and r > node.last_round):
                continue
            if is_function(node.role):
                continue  # a function node calls no model (unless it chooses to)
            if node.does == "score":
                targets = sum(
                    by_id[e.source].n
                    for e in spec.inputs_of(node.id)
                    if by_id[e.source].role in ANSWER_ROLES and (not e.feedback or r > 1)
                )
                total += node.n * max(1, targets)
            else:
                total += node.n
    return total


def build(
    space: SearchSpace,
    a: Assignment,
    *,
    task_cost: Callable[[GraphSpec], float] | None = None,
) -> Decoded:
    """The graph an assignment describes, or why there is none.

    ``task_cost`` estimates a graph's cost per task for ``constraints.max_cost_per_task``.
    """
    v = a.values
    out = Decoded(assignment=a)
    rounds = int(v["rounds"])
    stop = v["stop_on_agreement"]
    present = [n for n in space.nodes if v.get(f"{n.id}.present")]
    role = {n.id: str(v[f"{n.id}.role"]) for n in present}
    does = {n.id: role_does(role[n.id]) for n in present}
    ceos = [n for n in present if does[n.id] == "decide"]
    if len(ceos) > 1 or any(int(v[f"{n.id}.copies"]) > 1 for n in ceos):
        out.reason = "more than one coordinator (ceo) node: a graph has at most one controller"
        return out
    looped = bool(ceos) or stop is not None
    copies = {n.id: _ids(n.id, int(v[f"{n.id}.copies"])) for n in present}
    incoming = {e.target for e in space.edges if v.get(e.key)}
    nodes: list[dict[str, Any]] = []
    for n in present:
        if does[n.id] in READERS and n.id not in incoming:
            out.reason = (
                f"{n.id} ({role[n.id]}) is present but reads no node: no edge into it is on"
            )
            return out
        policy = n.rounds or ("last" if does[n.id] in SELECTORS and not looped else "all")
        for i, nid in enumerate(copies[n.id]):
            data: dict[str, Any] = {
                **n.fields,
                "id": nid,
                "role": role[n.id],
                "model": v[f"{n.id}.model"],
                "n": int(v[f"{n.id}.n"]),
                "memory": bool(v[f"{n.id}.memory"]),
            }
            if v[f"{n.id}.temperature"] is not None:
                data["temperature"] = v[f"{n.id}.temperature"]
            if n.aspects:
                data["aspect"] = n.aspects[i]
            if policy == "last":
                data["first_round"] = rounds
            elif policy == "first":
                data["last_round"] = 1
            nodes.append(data)
    limit = space.constraints.max_nodes
    if limit is not None and len(nodes) > limit:
        out.reason = f"{len(nodes)} nodes, more than constraints.max_nodes={limit}"
        return out
    edges = [
        {"source": s, "target": t, "feedback": e.feedback, "when": e.when}
        for e in space.edges
        if v.get(e.key)
        for s in copies[e.source]
        for t in copies[e.target]
    ]
    method = v["selection"]
    need = NEEDS_ACT.get(method)
    by = next((copies[n.id][0] for n in present if does[n.id] == need), None) if need else None
    c = space.constraints
    data = {
        "name": space.name,
        "roles": [d.model_dump(mode="json", exclude_defaults=True) for d in space.roles],
        "nodes": nodes,
        "edges": edges,
        "rounds": {
            "max_rounds": rounds,
            "controller": ceos[0].id if ceos else None,
            "stop_on_agreement": stop,
        },
        "selection": {
            "method": method,
            "by": by if method != "ceo" else None,
            "answer_kind": space.answer_kind,
        },
        "budget": {"max_usd": c.max_cost_per_task, "max_calls": c.max_calls_per_task},
        "metadata": {"optimizer": {"space": space.name, "params": a.params}},
    }
    try:
        spec = GraphSpec.model_validate(data)
    except ValidationError as exc:
        out.reason = "; ".join(
            f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}"
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors(include_url=False)
        )
        return out
    calls = nominal_calls(spec)
    if c.max_calls_per_task is not None and calls > c.max_calls_per_task:
        out.reason = f"{calls} model calls per task, more than constraints.max_calls_per_task={c.max_calls_per_task}"
        return out
    if c.max_cost_per_task is not None and task_cost is not None:
        cost = task_cost(spec)
        if cost > c.max_cost_per_task:
            out.reason = f"estimated ${cost:.6f} per task, more than constraints.max_cost_per_task=${c.max_cost_per_task:g}"
            return out
    key = spec_key(spec)
    summary = describe(spec)
    out.spec = spec.model_copy(update={"name": f"{space.name}-{key[:8]}", "description": summary})
    out.key = key
    return out


def describe(spec: GraphSpec) -> str:
    """A one-line human summary: ``solver x8 (large) -> verifier (small); select verifier``."""
    parts = []
    for n in spec.nodes:
        bits = [n.model]
        if is_function(n.role):  # a function: its name, no model
            bits = [n.role.partition(":")[2] or n.role]
        elif n.role not in BUILT_IN:  # your own role: named
            bits.insert(0, n.role)
        if n.temperature is not None:
            bits.append(f"T={n.temperature:g}")
        if n.memory:
            bits.append("memory")
        parts.append(f"{n.id}{f' x{n.n}' if n.n > 1 else ''} ({', '.join(bits)})")
    text = " + ".join(parts)
    if spec.edges:
        text += "; " + ", ".join(
            f"{e.source}{'~>' if e.feedback else '->'}{e.target}" for e in spec.edges
        )
    if spec.rounds.max_rounds > 1:
        text += f"; {spec.rounds.max_rounds} rounds"
    return f"{text}; select {spec.selection.method}"
