"""A Python builder for :class:`GraphSpec` that reads like the topology it builds::

    g = Graph("verified-bo8")
    s = g.add(Solver(model="default", temperature=0.8), n=8)
    v = g.add(Verifier())
    g.connect(s, v)
    g.select("verifier")
    spec = g.build()

Role helpers (:func:`Solver`, :func:`Verifier`, …) take any :class:`NodeSpec`
field except ``id`` and ``role``; ``add`` returns the node id to connect with.
Your own roles and functions are nodes the same way::

    planner = register_role("planner", instructions="...", output=Plan, does="context")
    p = g.add(planner)                        # a registered role (or its name)
    t = g.add(Function(run_tests))            # an async function (or an @node one)
    g.select(t)                               # select by what that node scores

:meth:`Graph.build` puts the declarations of the roles it uses that thinktank does not
define into the spec's ``roles:`` block, so the spec is whole in YAML and elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from thinktank.agents.callables import path_of
from thinktank.agents.roles import (
    BUILT_IN,
    RoleAct,
    RoleReads,
    RoleSpec,
    function_declaration,
    lookup_role,
)
from thinktank.errors import ConfigError
from thinktank.graphs.functions import function_role
from thinktank.graphs.spec import (
    SELECT_METHODS,
    BudgetSpec,
    EdgeSpec,
    GraphSpec,
    NodeSpec,
    RoundSpec,
    SamplingSpec,
    SelectionSpec,
)


class NodeTemplate:
    """A role plus node settings, waiting for an id (``default_id``: when none is given)."""

    def __init__(self, role: str, *, default_id: str | None = None, **fields: Any) -> None:
        self.role = role
        self.default_id = default_id or role
        self.fields = fields


def Function(
    fn: Callable[..., Any] | str,
    *,
    does: RoleAct | None = None,
    reads: RoleReads | None = None,
    name: str | None = None,
    **fields: Any,
) -> NodeTemplate:
    """A function node: ``fn`` is an async function ``fn(task, inputs, ctx)`` (see
    :mod:`thinktank.graphs.functions`) or its import path. What it does comes from
    ``does``, else its ``@node`` declaration, else ``answer``; its role is named ``name``,
    else by its import path. Keyword arguments are NodeSpec fields (``n``, ``tools``, …)."""
    role = function_role(fn, does=does, reads=reads, name=name)
    path = role.function or ""
    default = path.partition(":")[2].rsplit(".", 1)[-1].split("#")[0]
    return NodeTemplate(
        role.name, default_id=default if _ID.match(default) else "function", **fields
    )


_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def _role(role: str) -> Any:
    def make(**fields: Any) -> NodeTemplate:
        return NodeTemplate(role, **fields)

    make.__name__ = role.capitalize()
    make.__doc__ = f"A {role} node template; keyword arguments are NodeSpec fields."
    return make


Solver = _role("solver")
Verifier = _role("verifier")
Critic = _role("critic")
Refiner = _role("refiner")
Fuser = _role("fuser")
Judge = _role("judge")
Debater = _role("debater")
CEO = _role("ceo")


class Graph:
    """Collects nodes, edges, rounds, selection and budget; :meth:`build` validates."""

    def __init__(self, name: str = "graph", description: str = "") -> None:
        self.name = name
        self.description = description
        self._nodes: list[NodeSpec] = []
        self._edges: list[EdgeSpec] = []
        self._rounds = RoundSpec()
        self._selection = SelectionSpec()
        self._budget = BudgetSpec()
        self._metadata: dict[str, Any] = {}

    def add(
        self,
        template: NodeTemplate | RoleSpec | str | Callable[..., Any],
        *,
        id: str | None = None,
        n: int | None = None,
        **fields: Any,
    ) -> str:
        """Add a node; returns its id (default: the role — a function node's function
        name — numbered when repeated). ``template`` is a role helper's template, a
        registered role (or its name) or an async function (a function node)."""
        if isinstance(template, RoleSpec):
            template = template.name
        if isinstance(template, str):
            role = lookup_role(template)  # an unknown name fails here, listing the known ones
            by_path = role.function == template  # a function named by its path: id its name
            template = Function(template) if by_path else NodeTemplate(template)
        elif not isinstance(template, NodeTemplate):
            template = Function(template)
        data = {**template.fields, **fields}
        if n is not None:
            data["n"] = n
        if isinstance(data.get("sampling"), dict):
            data["sampling"] = SamplingSpec(**data["sampling"])
        node_id = id or self._fresh(template.default_id)
        self._nodes.append(NodeSpec(id=node_id, role=template.role, **data))
        return node_id

    def _fresh(self, role: str) -> str:
        taken = {n.id for n in self._nodes}
        if role not in taken:
            return role
        k = 2
        while f"{role}{k}" in taken:
            k += 1
        return f"{role}{k}"

    def connect(
        self,
        source: str,
        target: str,
        *,
        feedback: bool = False,
        when: str = "always",
        agreement: float = 1.0,
    ) -> Graph:
        """``target`` reads ``source``; ``feedback=True`` reads the previous round's output."""
        self._edges.append(
            EdgeSpec.model_validate(
                dict(
                    source=source, target=target, feedback=feedback, when=when, agreement=agreement
                )
            )
        )
        return self

    def rounds(
        self,
        max_rounds: int,
        *,
        controller: str | None = None,
        stop_on_agreement: float | None = None,
    ) -> Graph:
        self._rounds = RoundSpec(
            max_rounds=max_rounds, controller=controller, stop_on_agreement=stop_on_agreement
        )
        return self

    def select(
        self,
        method: str | Callable[..., Any] = "vote",
        *,
        by: str | None = None,
        candidates: list[str] | None = None,
        **kw: Any,
    ) -> Graph:
        """How the final answer is chosen: a method (``vote``, ``verifier``, …), the id of a
        node that scores, selects or fuses (select by it: ``select("tests")``), or a
        selection function ``fn(candidates, scores)`` (or its ``module:function`` path)."""
        if callable(method):
            method = path_of(method)
        elif method not in SELECT_METHODS and any(nd.id == method for nd in self._nodes):
            node = next(nd for nd in self._nodes if nd.id == method)
            by_act = {"score": "verifier", "select": "judge", "fuse": "fuser"}
            if node.does not in by_act:
                raise ConfigError(
                    f"cannot select by node {method!r}: it does {node.does!r}; select by a node "
                    "that scores, selects or fuses candidates, or give a method"
                )
            method, by = by_act[node.does], method
        self._selection = SelectionSpec.model_validate(
            {"method": method, "by": by, "candidates": candidates or [], **kw}
        )
        return self

    def budget(self, **limits: Any) -> Graph:
        self._budget = BudgetSpec(**limits)
        return self

    def meta(self, **items: Any) -> Graph:
        self._metadata.update(items)
        return self

    def _declarations(self) -> list[dict[str, Any]]:
        """The roles the nodes use that thinktank does not define, as ``roles:`` entries (a
        function named by its path with the act of its ``@node`` declaration needs none)."""
        out: dict[str, dict[str, Any]] = {}
        for n in self._nodes:
            role = lookup_role(n.role)
            if n.role in BUILT_IN or n.role in out:
                continue
            if role.function == n.role and role.declaration() == function_declaration(n.role):
                continue
            out[n.role] = role.declaration().model_dump(mode="json", exclude_defaults=True)
        return list(out.values())

    def build(self) -> GraphSpec:
        """The validated :class:`GraphSpec` (raises ``ConfigError`` listing every problem,
        nodes that could never run included)."""
        from thinktank.graphs._runnable import check_runnable

        spec = GraphSpec.parse_data(
            {
                "name": self.name,
                "description": self.description,
                "roles": self._declarations(),
                "nodes": [n.model_dump() for n in self._nodes],
                "edges": [e.model_dump() for e in self._edges],
                "rounds": self._rounds.model_dump(),
                "selection": self._selection.model_dump(),
                "budget": self._budget.model_dump(),
                "metadata": self._metadata,
            }
        )
        check_runnable(spec)
        return spec
