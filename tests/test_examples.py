"""Every script in examples/ runs (on the simulator), so the README's promises stay true;
examples/custom_agents.py also on a scripted model whose coders write real code."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinktank.agents.roles import temporary_roles
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes.testing import require_docker

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
QUESTIONS = [
    {"id": "mul", "question": "What is 17 * 23?", "answer": "391", "p_correct": 0.7},
    {"id": "sq", "question": "What is 12 * 12 - 4?", "answer": "140", "p_correct": 0.7},
]


@pytest.fixture(scope="module")
def simulator() -> object:
    cfg = SimulatorConfig.model_validate(
        {"seed": 1, "synthetic": {"tasks": {"questions": QUESTIONS}}}
    )
    with SimulatorServer(cfg) as sim:
        yield sim


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


NEEDS_DOCKER = {"custom_agents.py"}
"""Examples whose function nodes run code in the Docker sandbox."""


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, simulator: SimulatorServer) -> None:
    if script.name in NEEDS_DOCKER:
        require_docker()
    env = {
        **os.environ,
        "THINKTANK_MODEL": f"openai:sim@{simulator.base_url}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "status=" in proc.stdout
    if script.name in NEEDS_DOCKER:  # its function node ran the candidates in Docker
        assert "'rationale': 'DockerSandbox: exit " in proc.stdout, proc.stdout


CORRECT = "```python\ndef answer():\n    return 17 * 23\n```\nAnswer: 391"
BUGGY = "```python\ndef answer():\n    return 17 + 23\n```\nAnswer: 40"


def _scripted() -> FunctionModel:
    """The planner plans, one coder of four writes the right program (the others add),
    the reviewer comments."""
    coders: list[str] = []

    def reply(request: ChatRequest) -> str:
        system = str(request.messages[0]["content"])
        user = str(request.messages[-1]["content"])
        if system.startswith("You are the planner"):
            return '{"steps": ["define answer()", "return the product"]}'
        if system.startswith("You are a coder"):
            assert "Context:" in user and "define answer()" in user  # the plan reached it
            coders.append(user)
            return CORRECT if len(coders) == 2 else BUGGY
        if system.startswith("You are a code reviewer"):
            return '{"issues": ["17 + 23 adds"], "summary": "one multiplies, the others add"}'
        raise AssertionError(f"unexpected request: {system[:80]}")

    return FunctionModel(reply)


def test_the_custom_agents_example_selects_by_tests_run_in_docker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a scripted model whose coders mostly write a buggy program, the example's function
    node runs every candidate in the Docker sandbox and selection by tests picks the
    correct one, which the vote would not."""
    require_docker()
    with temporary_roles():  # the roles the example registers are forgotten after
        spec = importlib.util.spec_from_file_location(
            "custom_agents", ROOT / "examples" / "custom_agents.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, "custom_agents", module)  # importable, as a user's
        spec.loader.exec_module(module)
        result = asyncio.run(module.main(_scripted()))
    assert sorted(c.answer or "" for c in result.candidates) == ["391", "40", "40", "40"]
    assert (result.answer, result.status) == ("391", "ok")  # the vote says 40
    tests = {o.target: o.output for o in result.trace.outputs if o.node == "tests"}
    assert len(tests) == 4
    for cid, out in tests.items():
        answer = next(c.answer for c in result.candidates if c.id == cid)
        assert out["rationale"].startswith("DockerSandbox: exit ")
        if answer == "391":
            assert out["score"] == 1.0 and out["rationale"].endswith("passed")
        else:
            assert out["score"] == 0.0 and "AssertionError" in out["rationale"]
    [review] = [o for o in result.trace.outputs if o.node == "reviewer"]
    assert review.output == {
        "issues": ["17 + 23 adds"],
        "summary": "one multiplies, the others add",
    }
    [plan] = [o for o in result.trace.outputs if o.node == "planner"]
    assert plan.output == {"steps": ["define answer()", "return the product"]}
