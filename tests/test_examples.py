"""Every script in examples/ runs (on the simulator), so the README's promises stay true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinktank.llm.simulator import SimulatorConfig, SimulatorServer

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


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, simulator: SimulatorServer) -> None:
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
