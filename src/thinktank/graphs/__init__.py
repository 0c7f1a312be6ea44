"""Collaboration graphs: GraphSpec, the builder, the LangGraph compiler, topologies.

Names are imported on first use (PEP 562), so that reading or drawing a spec
(``thinktank graph show``) does not load LangGraph; ``from thinktank.graphs import
compile`` works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinktank._lazy import lazy_names

if TYPE_CHECKING:
    from thinktank.graphs.builder import (
        CEO,
        Critic,
        Debater,
        Function,
        Fuser,
        Graph,
        Judge,
        Refiner,
        Solver,
        Verifier,
    )
    from thinktank.graphs.compiler import CompiledGraph, compile, run
    from thinktank.graphs.execution import ExecutionScorer
    from thinktank.graphs.functions import NodeContext, RunTask, node
    from thinktank.graphs.nodes import NodeRuntime
    from thinktank.graphs.result import RunResult
    from thinktank.graphs.spec import (
        BudgetSpec,
        EdgeSpec,
        GraphSpec,
        NodeSpec,
        RoundSpec,
        SamplingSpec,
        SelectionSpec,
    )
    from thinktank.graphs.topologies import TOPOLOGIES, load_graph, topology

# public name -> module defining it
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "CEO",
            "Critic",
            "Debater",
            "Function",
            "Fuser",
            "Graph",
            "Judge",
            "Refiner",
            "Solver",
            "Verifier",
        ),
        "thinktank.graphs.builder",
    ),
    **dict.fromkeys(("NodeContext", "RunTask", "node"), "thinktank.graphs.functions"),
    **dict.fromkeys(("CompiledGraph", "compile", "run"), "thinktank.graphs.compiler"),
    "RunResult": "thinktank.graphs.result",
    "NodeRuntime": "thinktank.graphs.nodes",
    "ExecutionScorer": "thinktank.graphs.execution",
    **dict.fromkeys(
        (
            "BudgetSpec",
            "EdgeSpec",
            "GraphSpec",
            "NodeSpec",
            "RoundSpec",
            "SamplingSpec",
            "SelectionSpec",
        ),
        "thinktank.graphs.spec",
    ),
    **dict.fromkeys(("TOPOLOGIES", "load_graph", "topology"), "thinktank.graphs.topologies"),
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())


__all__ = [
    "CEO",
    "TOPOLOGIES",
    "BudgetSpec",
    "CompiledGraph",
    "Critic",
    "Debater",
    "EdgeSpec",
    "ExecutionScorer",
    "Function",
    "Fuser",
    "Graph",
    "GraphSpec",
    "Judge",
    "NodeContext",
    "NodeRuntime",
    "NodeSpec",
    "Refiner",
    "RoundSpec",
    "RunResult",
    "RunTask",
    "SamplingSpec",
    "SelectionSpec",
    "Solver",
    "Verifier",
    "compile",
    "load_graph",
    "node",
    "run",
    "topology",
]
