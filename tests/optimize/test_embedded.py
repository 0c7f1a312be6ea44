"""Plumbing: the optimizer end to end against the embedded model (llama.cpp, SmolLM2-135M).

The model is tiny: this proves the path suite → space → study → runner → real
endpoint → best.yaml works, not that the answers are any good (2 tasks, 2 graphs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thinktank.evals.suites import load_suite
from thinktank.graphs.spec import GraphSpec
from thinktank.llm import local
from thinktank.optimize import RunnerEvaluator, SearchSpace, Study, StudyConfig

pytestmark = pytest.mark.embedded

SPACE = """
name: tiny
nodes:
  - {id: solver, role: solver, n: [1, 2], fields: {max_tokens: 16, max_steps: 1}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.LocalServer]:
    mp = pytest.MonkeyPatch()
    mp.setenv("THINKTANK_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
    srv = local.ensure_local_server()
    yield srv
    local.stop_local_server()
    mp.undo()


def test_a_two_graph_study_runs_on_the_embedded_model(
    server: local.LocalServer, tmp_path: Path
) -> None:
    tasks = load_suite("math", game24=0)[:2]
    evaluator = RunnerEvaluator(
        {"small": "local:smollm2"}, environment_options={"math": {"python": False}}
    )
    result = Study(
        SearchSpace.from_yaml(SPACE),
        tasks,
        evaluator,
        StudyConfig(algo="grid", max_evals=2, budget_usd=0.01),
        out_dir=tmp_path,
    ).run_sync()
    assert result.evaluations == 2 and result.stop_reason in ("max_evals", "space_exhausted")
    assert all(t.tasks == 2 for t in result.trials if t.evaluation is not None)
    assert result.spent_usd == 0.0  # the embedded model is free
    spec = GraphSpec.load(tmp_path / "best.yaml")
    assert spec.node("solver").model == "small"
    assert (tmp_path / "pareto.png").is_file() and (tmp_path / "progress.png").is_file()
