"""Bad input is refused with a message that says what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.optimize import landscape as L
from thinktank.cli.app import app
from thinktank.errors import ConfigError, UsageError
from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.simulator import SimulatorServer
from thinktank.optimize import (
    FunctionObjective,
    RunnerObjective,
    SearchSpace,
    SpaceError,
    Study,
    StudyConfig,
    TaskOutcome,
)
from thinktank.optimize._loop import EvaluationFailed

TASKS = [Task(id=f"t{i}", kind="math", prompt=f"q{i}", expected="1") for i in range(5)]
SPACE = SearchSpace.from_yaml("nodes: [{id: s, role: solver, n: [1, 2, 4]}]")


def ok(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
    return TaskOutcome(task_id=task.id, status="ok", correct=True)


def evaluator() -> FunctionObjective:
    return FunctionObjective(ok, aliases=["m"])


def test_a_dev_set_too_small_for_the_pruner_says_the_minimum() -> None:
    study = Study(SPACE, TASKS, evaluator(), StudyConfig(algo="tpe", prune=True, prune_min_tasks=3))
    with pytest.raises(ConfigError, match=r"has 5 tasks, too few for pruning: .* at least 6"):
        study.run_sync()
    # without an explicit --prune, a small dev set simply runs unpruned
    assert Study(SPACE, TASKS, evaluator(), StudyConfig(algo="tpe", max_evals=2)).run_sync().best


def test_pruning_is_refused_for_algorithms_that_cannot_use_it() -> None:
    with pytest.raises(ConfigError, match="pruning works with tpe only"):
        Study(SPACE, TASKS, evaluator(), StudyConfig(algo="nsga2", prune=True)).run_sync()


def test_an_empty_dev_set_and_an_empty_pool() -> None:
    with pytest.raises(ConfigError, match="the dev set is empty"):
        Study(SPACE, [], evaluator()).run_sync()
    with pytest.raises(SpaceError, match="the model pool is empty"):
        Study(SPACE, TASKS, FunctionObjective(ok)).run_sync()


def test_constraints_no_graph_can_meet_are_explained() -> None:
    space = SearchSpace.from_yaml(
        "nodes: [{id: s, role: solver, n: [2, 4]}]\nconstraints: {max_calls_per_task: 1}"
    )
    with pytest.raises(
        SpaceError, match=r"no valid graph .* more than constraints.max_calls_per_task=1"
    ):
        Study(space, TASKS, evaluator()).run_sync()


def test_a_study_directory_of_another_experiment_is_not_reused(tmp_path: Path) -> None:
    Study(
        SPACE, TASKS, evaluator(), StudyConfig(max_evals=1), out_dir=tmp_path, plots=False
    ).run_sync()
    other = SearchSpace.from_yaml("nodes: [{id: s, role: solver, n: [1, 8]}]")
    with pytest.raises(UsageError, match="made with a different space; choose a new --out"):
        Study(other, TASKS, evaluator(), StudyConfig(max_evals=1), out_dir=tmp_path).run_sync()


def test_a_model_the_endpoint_does_not_serve_stops_the_study_at_the_first_evaluation(
    tmp_path: Path,
) -> None:
    cfg = L.config(unknown_models="reject")
    with SimulatorServer(cfg) as sim:
        pool = {"cheap": f"openai:no-such-model@{sim.base_url}"}
        space = SearchSpace.from_yaml("nodes: [{id: s, role: solver}]")
        study = Study(space, L.tasks(2), RunnerObjective(pool, environment_options=L.NO_TOOLS))
        with pytest.raises(EvaluationFailed, match="every task of the first evaluation failed"):
            study.run_sync()


def test_cli_rejects_unknown_models_and_bad_pool_syntax(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(L.SPACE_YAML)
    base = ["optimize", "--suite", "math", "--space", str(space), "--out", str(tmp_path / "o")]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "--model-pool", "cheap=gpt-4o,strong=openai:x"])
    assert res.exit_code == 1 and "unknown model 'gpt-4o'" in res.output
    res = runner.invoke(app, [*base, "--model-pool", "cheap"])
    assert res.exit_code == 1 and "--model-pool takes ALIAS=MODEL" in res.output
    res = runner.invoke(app, [*base, "--model-pool", "cheap=openai:a@http://127.0.0.1:9/v1"])
    assert res.exit_code == 1 and "unknown model(s) ['strong']" in res.output
    res = runner.invoke(app, [*base, "--model-pool", "cheap=openai:a", "--algo", "sa"])
    assert res.exit_code == 1 and "unknown algorithm 'sa'" in res.output
