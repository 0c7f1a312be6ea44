"""Study mechanics on an analytic landscape: reproducible seeds, pruning, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.optimize.test_reinforce import SPACE, TASKS, evaluator
from thinktank.evals.tasks.task import Task
from thinktank.optimize import Study, StudyConfig, load_result


@pytest.mark.parametrize("algo", ["random", "reinforce", "tpe", "nsga2"])
def test_equal_seeds_give_equal_studies(algo: str) -> None:
    def keys(seed: int) -> list[str | None]:
        cfg = StudyConfig(algo=algo, seed=seed, max_evals=10, population=4)  # type: ignore[arg-type]
        return [t.key for t in Study(SPACE, TASKS, evaluator(), cfg).run_sync().trials]

    first = keys(1)
    assert first == keys(1)
    assert first != keys(2)


def test_successive_halving_prunes_on_growing_task_subsets(tmp_path: Path) -> None:
    tasks = [Task(id=f"t{i}", kind="math", prompt=f"question {i}", expected="1") for i in range(16)]
    cfg = StudyConfig(algo="tpe", seed=0, max_evals=20, prune=True, prune_min_tasks=2)
    result = Study(SPACE, tasks, evaluator(), cfg, out_dir=tmp_path, plots=False).run_sync()
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned and all(t.tasks in (2, 4, 8) for t in pruned)
    assert result.best is not None and result.best.tasks == 16
    # the pruned graphs ran only their rungs' tasks
    assert all(t.fresh <= t.tasks for t in pruned)
    # the output directory reads back
    back = load_result(tmp_path)
    assert back.best is not None and back.best.key == result.best.key
    assert [t.number for t in back.pareto] == [t.number for t in result.pareto]
    log = [json.loads(x) for x in (tmp_path / "search_log.jsonl").read_text().splitlines()]
    assert {x["status"] for x in log} >= {"complete", "pruned"}


def test_the_pruner_is_successive_halving_from_the_first_rungs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The study prunes with successive halving on its rungs (the best 1/η of the trials
    at a rung go on), not Optuna's default median pruner, which never prunes before its
    5 start-up trials have completed."""
    import optuna

    made: list[optuna.pruners.BasePruner] = []
    create = optuna.create_study

    def spy(*args: object, **kwargs: object) -> optuna.Study:
        study = create(*args, **kwargs)  # type: ignore[arg-type]
        made.append(study.pruner)
        return study

    monkeypatch.setattr(optuna, "create_study", spy)
    tasks = [Task(id=f"t{i}", kind="math", prompt=f"question {i}", expected="1") for i in range(16)]
    cfg = StudyConfig(algo="tpe", seed=0, max_evals=12, prune=True, prune_min_tasks=2)
    result = Study(SPACE, tasks, evaluator(), cfg, out_dir=tmp_path, plots=False).run_sync()
    (used,) = made
    assert isinstance(used, optuna.pruners.SuccessiveHalvingPruner)
    early = [t for t in result.trials if t.status == "pruned" and t.number < 5]
    assert early, [(t.number, t.status, t.tasks) for t in result.trials]
    # without pruning the study gets a pruner that never prunes
    made.clear()
    cfg = StudyConfig(algo="tpe", seed=0, max_evals=4, prune=False)
    Study(SPACE, tasks, evaluator(), cfg, plots=False).run_sync()
    assert isinstance(made[0], optuna.pruners.NopPruner)
