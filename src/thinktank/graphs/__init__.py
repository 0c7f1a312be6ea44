"""Collaboration graphs: GraphSpec, the builder, the LangGraph compiler, topologies."""

from __future__ import annotations

from thinktank.graphs.builder import (
    CEO,
    Critic,
    Debater,
    Fuser,
    Graph,
    Judge,
    Refiner,
    Solver,
    Verifier,
)
from thinktank.graphs.compiler import CompiledGraph, RunResult, compile, run
from thinktank.graphs.execution import SandboxExecutor
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

__all__ = [
    "CEO",
    "TOPOLOGIES",
    "BudgetSpec",
    "CompiledGraph",
    "Critic",
    "Debater",
    "EdgeSpec",
    "Fuser",
    "Graph",
    "GraphSpec",
    "Judge",
    "NodeSpec",
    "Refiner",
    "RoundSpec",
    "RunResult",
    "SamplingSpec",
    "SandboxExecutor",
    "SelectionSpec",
    "Solver",
    "Verifier",
    "compile",
    "load_graph",
    "run",
    "topology",
]
