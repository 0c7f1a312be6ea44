"""A Python builder for :class:`GraphSpec` that reads like the topology it builds::

    g = Graph("verified-bo8")
    s = g.add(Solver(model="default", temperature=0.8), n=8)
    v = g.add(Verifier())
    g.connect(s, v)
    g.select("verifier")
    spec = g.build()

Role helpers (:func:`Solver`, :func:`Verifier`, …) take any :class:`NodeSpec`
field except ``id`` and ``role``; ``add`` returns the node id to connect with.
"""

from __future__ import annotations

from typing import Any

from thinktank.graphs.spec import (
    BudgetSpec,
    EdgeSpec,
    GraphSpec,
    NodeSpec,
    RoundSpec,
    SamplingSpec,
    SelectionSpec,
)


class NodeTemplate:
    """A role plus node settings, waiting for an id."""

    def __init__(self, role: str, **fields: Any) -> None:
        self.role = role
        self.fields = fields


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
        self, template: NodeTemplate, *, id: str | None = None, n: int | None = None, **fields: Any
    ) -> str:
        """Add a node; returns its id (default: the role, numbered when repeated)."""
        data = {**template.fields, **fields}
        if n is not None:
            data["n"] = n
        if isinstance(data.get("sampling"), dict):
            data["sampling"] = SamplingSpec(**data["sampling"])
        node_id = id or self._fresh(template.role)
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
        method: str = "vote",
        *,
        by: str | None = None,
        candidates: list[str] | None = None,
        **kw: Any,
    ) -> Graph:
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

    def build(self) -> GraphSpec:
        """The validated :class:`GraphSpec` (raises ``ConfigError`` listing every problem,
        nodes that could never run included)."""
        from thinktank.graphs._runnable import check_runnable

        spec = GraphSpec.parse_data(
            {
                "name": self.name,
                "description": self.description,
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
