"""Test doubles in one place, for testing code built on thinktank without a paid model.

* :class:`ScriptedModel` replays fixed replies; :class:`FunctionModel` computes them
  (both real :class:`~thinktank.llm.base.ChatModel` s: budgets, cache and ledger apply);
* :class:`SimulatorServer` (in-process) and :class:`SimulatorProcess` (its own process)
  serve an OpenAI-compatible endpoint on loopback, configured by
  :class:`SimulatorConfig`; :class:`SyntheticConfig` with a :class:`TaskSet` of
  :class:`Question` s gives each question its success probability (see
  ``thinktank/llm/simulator/README.md``);
* :class:`LoopbackOnlyBackend` is an httpcore network backend that refuses every
  address but loopback.

Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinktank._lazy import lazy_names

if TYPE_CHECKING:
    from thinktank.llm.simulator import (
        Question,
        SimulatorConfig,
        SimulatorProcess,
        SimulatorServer,
        SyntheticConfig,
        TaskSet,
    )
    from thinktank.llm.testing import FunctionModel, ScriptedModel
    from thinktank.tools.web.testing import LoopbackOnlyBackend

_LAZY: dict[str, str] = {
    **dict.fromkeys(("FunctionModel", "ScriptedModel"), "thinktank.llm.testing"),
    **dict.fromkeys(
        (
            "Question",
            "SimulatorConfig",
            "SimulatorProcess",
            "SimulatorServer",
            "SyntheticConfig",
            "TaskSet",
        ),
        "thinktank.llm.simulator",
    ),
    "LoopbackOnlyBackend": "thinktank.tools.web.testing",
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())

__all__ = [
    "FunctionModel",
    "LoopbackOnlyBackend",
    "Question",
    "ScriptedModel",
    "SimulatorConfig",
    "SimulatorProcess",
    "SimulatorServer",
    "SyntheticConfig",
    "TaskSet",
]
