"""An OpenAI-compatible simulator server for tests and benchmarks (loopback only).

Scripted replies, latency, fault injection and a synthetic task mode; see the
README in this folder for the prompt conventions and the task file schema.

    from thinktank.llm.simulator import SimulatorConfig, SimulatorServer

    with SimulatorServer(SimulatorConfig(script=["hello"])) as sim:
        ...  # point any OpenAI client at sim.base_url
"""

from __future__ import annotations

from thinktank.llm.simulator.answers import extract_answer, normalize_answer
from thinktank.llm.simulator.config import (
    FAULT_KINDS,
    IDEALISED,
    CeoPolicy,
    FaultKind,
    Faults,
    Latency,
    ModelProfile,
    Revision,
    ScriptStep,
    SimulatorConfig,
    SyntheticConfig,
    ToolCallSpec,
    load_config,
)
from thinktank.llm.simulator.engine import SimulatorEngine
from thinktank.llm.simulator.server import SimulatorProcess, SimulatorServer, serve_forever
from thinktank.llm.simulator.tasks import Boost, Question, TaskSet

__all__ = [
    "FAULT_KINDS",
    "IDEALISED",
    "Boost",
    "CeoPolicy",
    "FaultKind",
    "Faults",
    "Latency",
    "ModelProfile",
    "Question",
    "Revision",
    "ScriptStep",
    "SimulatorConfig",
    "SimulatorEngine",
    "SimulatorProcess",
    "SimulatorServer",
    "SyntheticConfig",
    "TaskSet",
    "ToolCallSpec",
    "extract_answer",
    "load_config",
    "normalize_answer",
    "serve_forever",
]
