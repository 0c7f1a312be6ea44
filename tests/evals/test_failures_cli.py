"""Failures that say what happened: the model check before ``eval`` and ``optimize``.

Real HTTP on loopback: a closed port (connections refused) and the simulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.net import closed_port
from tests.optimize import landscape as L
from thinktank.cli.app import app
from thinktank.errors import ModelUnavailable
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.llm.simulator import SimulatorServer

cli = CliRunner()
TASKS = [
    Task(id=f"t{i}", kind="math", prompt=f"What is {i} + 1?", expected=str(i + 1)) for i in range(3)
]


def invoke(*args: str) -> Result:
    return cli.invoke(app, list(args))


@pytest.fixture
def dead() -> Iterator[str]:
    """A model string whose endpoint refuses connections."""
    with closed_port() as port:
        yield f"openai:m@http://127.0.0.1:{port}/v1"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return dump_tasks(TASKS, tmp_path / "tasks.jsonl")


# --- the model check -----------------------------------------------------------------


def test_eval_does_not_start_when_a_model_is_unreachable(
    tmp_path: Path, suite: Path, dead: str
) -> None:
    out = tmp_path / "run"
    res = invoke(
        "eval", "--suite", str(suite), "--graph", "single", "--model", dead, "--out", str(out)
    )
    assert res.exit_code == 1, res.output
    url = dead.partition("@")[2]
    assert f"connection refused by {url}" in res.output
    assert "start the server or pass --model" in res.output and "--no-check-models" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()  # nothing started, nothing recorded


def test_a_node_model_string_and_the_judge_are_checked_too(tmp_path: Path, dead: str) -> None:
    from thinktank.graphs.spec import GraphSpec
    from thinktank.llm.testing import ScriptedModel

    spec = GraphSpec.parse_data({"nodes": [{"id": "s", "role": "solver", "model": dead}]})
    runner = Runner(TASKS, {"g": spec}, ScriptedModel(["Answer: 1"] * 3), out_dir=tmp_path / "r")
    with pytest.raises(ModelUnavailable, match=r"model openai:m@http.*connection refused"):
        runner.run_sync()
    assert not (tmp_path / "r").exists()


def test_the_check_can_be_skipped_and_then_the_errors_are_recorded(
    tmp_path: Path, suite: Path, dead: str
) -> None:
    out = tmp_path / "run"
    res = invoke(
        "eval", "--suite", str(suite), "--graph", "single", "--model", dead, "--out", str(out),
        "--no-check-models", "--no-report",
    )  # fmt: skip
    assert "3 errors" in res.output, res.output
    assert (out / "records.sqlite").is_file()


def test_eval_against_a_live_simulator_passes_the_check(tmp_path: Path, suite: Path) -> None:
    with SimulatorServer() as sim:
        res = invoke(
            "eval", "--suite", str(suite), "--graph", "single", "--model",
            f"openai:sim@{sim.base_url}", "--out", str(tmp_path / "run"), "--no-report",
        )  # fmt: skip
    assert res.exit_code == 0, res.output


def test_optimize_does_not_start_when_a_pool_model_is_unreachable(
    tmp_path: Path, suite: Path, dead: str
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(L.SPACE_YAML)
    out = tmp_path / "opt"
    with L.simulator() as (_, pool):
        alive = next(iter(pool.values()))
        res = invoke(
            "optimize", "--suite", str(suite), "--space", str(space), "--out", str(out),
            "--model-pool", f"cheap={alive},strong={dead}", "--max-evals", "1",
        )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert f"model strong: connection refused by {dead.partition('@')[2]}" in res.output
    assert "model cheap" not in res.output
    assert "start the server or fix --model-pool" in res.output
    assert not out.exists()


# --- exit codes and errors grouped by cause --------------------------------------------


def test_eval_exits_3_and_groups_the_errors_by_cause(
    tmp_path: Path, suite: Path, dead: str
) -> None:
    out = tmp_path / "run"
    t0 = time.perf_counter()
    res = invoke(
        "eval", "--suite", str(suite), "--graph", "single", "--model", dead, "--out", str(out),
        "--no-check-models",
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert res.exit_code == 3, res.output
    url = dead.partition("@")[2]
    assert "3 task(s) errored, by cause:" in res.output, res.output
    assert f"  3 tasks: ModelUnavailable: connection refused by {url}" in res.output
    assert "--resume --retry-errors" in res.output
    assert elapsed < 30, elapsed  # three refused attempts per task, not 8-10 s of backoff each
    md = (out / "report.md").read_text()
    assert f"3× ModelUnavailable: connection refused by {url}" in md


def test_run_exits_3_with_the_failed_calls_grouped(dead: str) -> None:
    res = invoke("run", "What is 1 + 1?", "--graph", "best_of_n:n=2", "--model", dead)
    assert res.exit_code == 3, res.output
    url = dead.partition("@")[2]
    assert f"2 samples: ModelUnavailable: connection refused by {url}" in res.output
    res = invoke("run", "What is 1 + 1?", "--graph", "single", "--model", dead, "--json")
    assert res.exit_code == 3 and '"status": "error"' in res.output


@pytest.fixture
def sim() -> Iterator[str]:
    with SimulatorServer() as server:
        yield f"openai:sim@{server.base_url}"


VERIFIED = "best_of_n:n=3,select=verifier,verifier_model=checker"


def test_run_with_a_verifier_that_always_failed_is_degraded_and_exits_3(
    sim: str, dead: str
) -> None:
    res = invoke("run", "What is 1 + 1?", "--graph", VERIFIED, "--model", f"default={sim}",
                 "--model", f"checker={dead}")  # fmt: skip
    assert res.exit_code == 3, res.output
    assert "degraded: selection 'verifier' fell back to a majority vote" in res.output
    assert "3 samples: ModelUnavailable: connection refused by" in res.output


def test_eval_records_and_reports_degraded_tasks(
    tmp_path: Path, suite: Path, sim: str, dead: str
) -> None:
    out = tmp_path / "run"
    models = ["--model", f"default={sim}", "--model", f"checker={dead}"]
    res = invoke("eval", "--suite", str(suite), "--graph", VERIFIED, *models, "--out", str(out))
    assert res.exit_code == 1 and "model checker: connection refused" in res.output, res.output
    res = invoke(
        "eval", "--suite", str(suite), "--graph", VERIFIED, *models, "--out", str(out),
        "--no-check-models",
    )  # fmt: skip
    assert res.exit_code == 3, res.output
    assert "0 errors, 3 degraded" in res.output
    assert "3 task(s) degraded" in res.output
    assert "3 tasks: selection 'verifier' fell back to a majority vote" in res.output
    with RunDatabase.open(out) as db:
        recs = db.records()
    assert {r.status for r in recs} == {"degraded"}
    assert all("connection refused" in (r.error or "") for r in recs)
    assert all(r.correct is not None for r in recs)  # degraded answers are still judged
    md = (out / "report.md").read_text()
    assert "3 record(s) are degraded" in md and "(degraded)" in md
