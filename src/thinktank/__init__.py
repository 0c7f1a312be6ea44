"""thinktank: multi-agent, tool-using test-time scaling.

The public API, imported on first use (so ``import thinktank`` stays fast)::

    from thinktank import Graph, Solver, Verifier, compile

    g = Graph("verified-best-of-8")
    s = g.add(Solver(temperature=0.8), n=8)
    g.connect(s, g.add(Verifier()))
    g.select("verifier")
    result = compile(g.build(), models="openai:gpt-4o-mini").run_sync("What is 17 * 23?")

* graphs — :class:`Graph` and the roles (:class:`Solver`, :class:`Verifier`,
  :class:`Critic`, :class:`Refiner`, :class:`Fuser`, :class:`Judge`, :class:`Debater`,
  :class:`CEO`), function nodes (:func:`Function`, :func:`node`), :class:`GraphSpec`,
  :func:`topology`, :func:`load_graph`, :func:`compile`, :func:`run`, :class:`RunResult`;
* agents and tools — :class:`Agent`, :func:`register_role` (your own roles), :func:`tool`;
* models and budgets — :func:`load_model`, :class:`ChatModel`, :class:`Budget`,
  :func:`scope`, :func:`set_price`;
* sandboxes — :func:`open_sandbox`;
* memory — :class:`SQLiteMemoryBank`;
* evaluation — :class:`Task`, :func:`load_suite`, :class:`Runner` (its settings:
  :class:`RunnerConfig`);
* errors — :class:`ThinktankError` (every error the package raises on purpose).

Test doubles (scripted models, the simulator) are in :mod:`thinktank.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinktank._lazy import lazy_names

__version__ = "0.1.0"

if TYPE_CHECKING:
    from thinktank.agents.agent import Agent
    from thinktank.agents.roles import register_role
    from thinktank.errors import ThinktankError
    from thinktank.evals.runs.config import RunnerConfig
    from thinktank.evals.runs.runner import Runner
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.evals.tasks.task import Task
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
    from thinktank.graphs.compiler import compile, run
    from thinktank.graphs.functions import node
    from thinktank.graphs.result import RunResult
    from thinktank.graphs.spec import GraphSpec
    from thinktank.graphs.topologies import load_graph, topology
    from thinktank.llm.base import ChatModel
    from thinktank.llm.budget import Budget
    from thinktank.llm.config import load_model
    from thinktank.llm.ledger import scope
    from thinktank.llm.pricing import set_price
    from thinktank.memory.sqlite import SQLiteMemoryBank
    from thinktank.sandboxes.provider import open_sandbox
    from thinktank.tools.function import tool

# public name -> module defining it
_LAZY: dict[str, str] = {
    "Agent": "thinktank.agents.agent",
    "register_role": "thinktank.agents.roles",
    "ThinktankError": "thinktank.errors",
    "RunnerConfig": "thinktank.evals.runs.config",
    "Runner": "thinktank.evals.runs.runner",
    "load_suite": "thinktank.evals.tasks.suites",
    "Task": "thinktank.evals.tasks.task",
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
    **dict.fromkeys(("compile", "run"), "thinktank.graphs.compiler"),
    "node": "thinktank.graphs.functions",
    "RunResult": "thinktank.graphs.result",
    "GraphSpec": "thinktank.graphs.spec",
    **dict.fromkeys(("load_graph", "topology"), "thinktank.graphs.topologies"),
    "ChatModel": "thinktank.llm.base",
    "Budget": "thinktank.llm.budget",
    "load_model": "thinktank.llm.config",
    "scope": "thinktank.llm.ledger",
    "set_price": "thinktank.llm.pricing",
    "SQLiteMemoryBank": "thinktank.memory.sqlite",
    "open_sandbox": "thinktank.sandboxes.provider",
    "tool": "thinktank.tools.function",
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())

__all__ = [
    "CEO",
    "Agent",
    "Budget",
    "ChatModel",
    "Critic",
    "Debater",
    "Function",
    "Fuser",
    "Graph",
    "GraphSpec",
    "Judge",
    "Refiner",
    "RunResult",
    "Runner",
    "RunnerConfig",
    "SQLiteMemoryBank",
    "Solver",
    "Task",
    "ThinktankError",
    "Verifier",
    "__version__",
    "compile",
    "load_graph",
    "load_model",
    "load_suite",
    "node",
    "open_sandbox",
    "register_role",
    "run",
    "scope",
    "set_price",
    "tool",
    "topology",
]
