"""Plumbing: ``thinktank optimize`` on a bundled suite with the embedded model.

SmolLM2-135M through llama.cpp is tiny: this proves the path bundled suite → space
→ study → eval runner → real endpoint → best.yaml and plots works, not that the
answers are any good (2 tasks, 2 graphs, 16-token replies).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.graphs.spec import GraphSpec
from thinktank.llm import local

pytestmark = pytest.mark.embedded

SPACE = """
name: tiny
nodes:
  - {id: solver, role: solver, n: [1, 2], fields: {max_tokens: 16, max_steps: 1}}
"""


def test_optimize_runs_on_a_bundled_suite_with_the_embedded_model(
    embedded_server: local.LocalServer, tmp_path: Path
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        app,
        [
            "optimize", "--suite", "math", "--tasks", "2", "--space", str(space),
            "--model-pool", "small=local:smollm2", "--algo", "grid", "--max-evals", "2",
            "--budget-usd", "0.01", "--env-opt", "math.python=false", "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "stopped (" in res.output and "after 2 evaluations" in res.output
    spec = GraphSpec.load(out / "best.yaml")
    assert spec.node("solver").model == "small"
    for name in ("pareto.png", "progress.png", "pareto.json", "report.md"):
        assert (out / name).is_file(), name
