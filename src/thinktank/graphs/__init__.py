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
from thinktank.graphs.spec import (
    BudgetSpec,
    EdgeSpec,
    GraphSpec,
    NodeSpec,
    RoundSpec,
    SamplingSpec,
    SelectionSpec,
)

__all__ = [
    "CEO",
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
    "SelectionSpec",
    "Solver",
    "Verifier",
    "compile",
    "run",
]
