"""The runner's settings: one RunnerConfig, or keyword arguments that build one."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.runs.config import RunnerConfig
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner

from .runner_support import NO_PYTHON, arith_model, arith_tasks


async def test_a_config_object_and_keywords_run_the_same(tmp_path: Path) -> None:
    config = RunnerConfig(
        out_dir=tmp_path / "a", concurrency=2, seed=7, environment_options=NO_PYTHON, progress=False
    )
    a = await Runner(arith_tasks(3), ["single"], arith_model(), config).run()
    b = await Runner(
        arith_tasks(3),
        ["single"],
        arith_model(),
        out_dir=tmp_path / "b",
        concurrency=2,
        seed=7,
        environment_options=NO_PYTHON,
        progress=False,
    ).run()
    assert a.recorded == b.recorded == 3 and a.accuracy == b.accuracy == {"single": 1.0}
    with RunDatabase.open(tmp_path / "a") as da, RunDatabase.open(tmp_path / "b") as db:
        assert da.config().fingerprint() == db.config().fingerprint()


def test_keywords_go_on_top_of_a_config(tmp_path: Path) -> None:
    base = RunnerConfig(out_dir=tmp_path, concurrency=4, suite="math")
    runner = Runner(arith_tasks(1), ["single"], arith_model(), config=base)
    assert runner.config is base
    resumed = Runner(arith_tasks(1), ["single"], arith_model(), base, resume=True, executor="local")
    assert resumed.config.resume and resumed.config.concurrency == 4 and not base.resume
    assert resumed.config.suite == "math" and resumed.out_dir == tmp_path


def test_mappings_may_be_none(tmp_path: Path) -> None:
    config = RunnerConfig(
        out_dir=str(tmp_path),
        executor_options=None,  # type: ignore[arg-type]
        suite_options=None,  # type: ignore[arg-type]
        environment_options=None,  # type: ignore[arg-type]
    )
    assert config.out_dir == tmp_path
    assert config.executor_options == config.suite_options == config.environment_options == {}


def test_bad_settings_name_the_field(tmp_path: Path) -> None:
    tasks, model = arith_tasks(1), arith_model()
    with pytest.raises(TypeError, match=r"'concurency'.*settings are: out_dir, concurrency"):
        Runner(tasks, ["single"], model, out_dir=tmp_path, concurency=4)
    with pytest.raises(ConfigError, match="concurrency: concurrency must be at least 1, not 0"):
        Runner(tasks, ["single"], model, out_dir=tmp_path, concurrency=0)
    with pytest.raises(ConfigError, match="budget_usd must be >= 0, not -1"):
        Runner(tasks, ["single"], model, out_dir=tmp_path, budget_usd=-1)
    with pytest.raises(ConfigError, match="out_dir: Field required"):
        Runner(tasks, ["single"], model, concurrency=2)
    with pytest.raises(ConfigError, match="executor: unknown executor 'dask'; valid executors"):
        Runner(tasks, ["single"], model, RunnerConfig(out_dir=tmp_path), executor="dask")
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        RunnerConfig(out_dir=tmp_path, concurency=4)  # type: ignore[call-arg]
