"""``thinktank eval`` and ``thinktank optimize`` with ``--executor ray`` on the session's
loopback Ray cluster, and a Ray driver killed mid-run that ``--resume`` completes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.optimize import landscape as L
from thinktank.cli.app import app
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.llm.simulator import Latency, SimulatorConfig, SimulatorServer, SyntheticConfig
from thinktank.llm.simulator import TaskSet as SimTasks

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]
cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    res = cli.invoke(app, list(args))
    return res.exit_code, res.output


def task_file(tmp_path: Path, n: int, seed: int) -> tuple[Path, SimTasks]:
    qs = SimTasks.generate(n, seed=seed, p_correct=[0.9, 0.5])
    tasks = [Task(id=q.id, kind="text", prompt=q.question, expected=q.answer) for q in qs.questions]
    return dump_tasks(tasks, tmp_path / "tasks.jsonl"), qs


def test_eval_runs_on_the_cluster_and_explains_bad_flags(tmp_path: Path, ray_cluster: Any) -> None:
    suite, qs = task_file(tmp_path, 6, seed=5)
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as sim:
        base = ["eval", "--suite", str(suite), "--graph", "single", "--model",
                f"openai:sim@{sim.base_url}", "--no-report"]  # fmt: skip
        code, text = invoke(*base, "--out", str(tmp_path / "a"), "--executor", "ray",
                            "--ray-opt", "workers=1", "-c", "3")  # fmt: skip
        assert code == 0, text
        assert "6 recorded" in text and "0 errors" in text
        code, text = invoke(*base, "--out", str(tmp_path / "b"), "--executor", "dask")
        assert code == 1 and "valid executors: local, ray" in text
        code, text = invoke(*base, "--out", str(tmp_path / "c"), "--ray-address", "auto")
        assert code == 1 and "go with --executor ray" in text
        code, text = invoke(*base, "--out", str(tmp_path / "d"), "--executor", "ray",
                            "--ray-opt", "wokers=2")  # fmt: skip
        assert code == 1 and "valid options" in text


def test_optimize_on_the_cluster_finds_what_the_local_study_finds(
    tmp_path: Path, ray_cluster: Any
) -> None:
    tasks = dump_tasks(L.tasks(), tmp_path / "dev.jsonl")
    space = tmp_path / "space.yaml"
    space.write_text(L.SPACE_YAML)
    summaries = {}
    with L.simulator() as (_, pool):
        for executor in ("local", "ray"):
            out = tmp_path / executor
            code, text = invoke(
                "optimize", "--suite", str(tasks), "--space", str(space),
                "--model-pool", ",".join(f"{a}={m}" for a, m in pool.items()),
                "--budget-usd", "1", "--algo", "random", "--max-evals", "3", "--seed", "3",
                "--env-opt", "math.python=false", "--out", str(out), "--executor", executor,
                "-c", "8",
            )  # fmt: skip
            assert code == 0, text
            summaries[executor] = json.loads((out / "study.json").read_text())
    local, ray = summaries["local"], summaries["ray"]
    assert ray["evaluations"] == local["evaluations"] == 3
    same = ("number", "status", "accuracy", "description")  # same graphs, same outcomes
    assert {k: ray["best"][k] for k in same} == {k: local["best"][k] for k in same}
    assert ray["best"]["cost"] == pytest.approx(local["best"]["cost"])
    assert ray["spent_usd"] == pytest.approx(local["spent_usd"]) and 0 < ray["spent_usd"] <= 1


def _count(out: Path) -> int:
    try:
        with RunDatabase.open(out) as db:
            return len(db.records())
    except Exception:  # not created yet
        return 0


def test_a_killed_driver_leaves_a_run_that_resume_completes(
    tmp_path: Path, ray_cluster: Any
) -> None:
    suite, qs = task_file(tmp_path, 24, seed=9)
    out = tmp_path / "run"
    address = ray_cluster.get_runtime_context().gcs_address
    config = SimulatorConfig(synthetic=SyntheticConfig(tasks=qs), latency=Latency(ms=300))
    with SimulatorServer(config) as sim:
        model = f"openai:sim@{sim.base_url}"
        args = ["eval", "--suite", str(suite), "--graph", "single", "--model", model,
                "--out", str(out), "-c", "4", "--no-report", "--executor", "ray",
                "--ray-address", address]  # fmt: skip
        code = "from thinktank.cli.app import main; main()"
        with (tmp_path / "driver.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", code, *args], stdout=log, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + 120
            while _count(out) < 4:
                assert proc.poll() is None, (tmp_path / "driver.log").read_text()
                assert time.monotonic() < deadline, "the driver made no progress"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        first = _count(out)
        assert 4 <= first < 24
        summary = await_resume(out, suite, model)
    assert summary.complete and summary.skipped == first and summary.errors == 0
    with RunDatabase.open(out) as db:
        keys = [(r.graph, r.task_id) for r in db.records()]
    assert len(keys) == len(set(keys)) == 24


def await_resume(out: Path, suite: Path, model: str) -> Any:
    """The killed run continued through the API, on the same cluster."""
    return Runner(
        load_suite(str(suite)),
        ["single"],
        model,
        out_dir=out,
        resume=True,
        suite=str(suite.resolve()),
        concurrency=4,
        progress=False,
        executor="ray",
    ).run_sync()
