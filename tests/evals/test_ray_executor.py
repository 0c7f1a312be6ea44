"""The eval runner's ``ray`` executor on a real two-CPU Ray cluster on loopback.

Same records as the local executor for the same seed; a worker killed mid-run costs
no task and duplicates none; the per-endpoint request limit and the run budget hold
across the whole cluster, not per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.run_types import RunSummary
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import (
    Latency,
    Question,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)

from .runner_support import NO_PYTHON

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

COMPARED = ("status", "answer", "expected", "correct", "score", "samples", "sample_correct")


def math_tasks(n: int) -> tuple[list[Task], TaskSet]:
    """The bundled math suite's first ``n`` word problems, and the simulator's view of them."""
    tasks = load_suite("math", game24=0)[:n]
    qs = TaskSet(
        questions=[
            Question(id=t.id, question=t.prompt, answer=str(t.expected), p_correct=0.6)
            for t in tasks
        ]
    )
    return tasks, qs


async def run(tasks: list[Task], graphs: Any, model: Any, out: Path, **kw: Any) -> RunSummary:
    kw.setdefault("environment_options", NO_PYTHON)
    kw.setdefault("progress", False)
    kw.setdefault("executor", "ray")
    return await Runner(tasks, graphs, model, out_dir=out, **kw).run()


def rows(out: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    with RunDatabase.open(out) as db:
        recs = db.records()
    keys = [(r.graph, r.task_id) for r in recs]
    assert len(keys) == len(set(keys)), "a task was recorded twice"
    return {(r.graph, r.task_id): tuple(getattr(r, f) for f in COMPARED) for r in recs}


@pytest.fixture
def prices() -> Iterator[None]:
    yield
    reset_prices()


async def test_bundled_math_gives_the_same_records_as_the_local_executor(
    tmp_path: Path, ray_cluster: Any
) -> None:
    tasks, qs = math_tasks(10)
    graphs = ["single", "best_of_n:n=3"]
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as sim:
        model = f"openai:sim@{sim.base_url}"
        local = await run(tasks, graphs, model, tmp_path / "local", executor="local", seed=4)
        remote = await run(tasks, graphs, model, tmp_path / "ray", seed=4, concurrency=6)
    assert remote.complete and remote.recorded == 20 and remote.errors == 0
    assert remote.accuracy == local.accuracy
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    with RunDatabase.open(tmp_path / "ray") as db:
        rec = next(r for r in db.records(with_result=True) if r.graph == "best_of_n:n=3")
    assert rec.result.trace.outputs  # full results travel back to the driver


async def test_a_killed_worker_loses_no_task_and_duplicates_none(
    tmp_path: Path, ray_cluster: Any
) -> None:
    qs = TaskSet.generate(16, seed=7, p_correct=0.8)
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in qs.questions]
    killed: list[int] = []
    runner: Runner | None = None

    async def kill_a_busy_worker() -> None:
        # A watcher beside the run (it never holds the run up): at a moment when every
        # dispatched job's model call is on the wire, the busiest worker is killed, so
        # its jobs must run again. Each call stays on the wire for 1.5 s, so such a
        # moment comes however slow a loaded machine is; no clock is raced.
        pids: list[int] = []
        while not killed:
            await asyncio.sleep(0.02)
            pool = getattr(getattr(runner, "executor", None), "pool", None)
            load = list(getattr(pool, "_load", {}).get("plain", []))
            if not sum(load):
                continue
            if not pids:
                pids = await runner.executor.worker_pids()  # type: ignore[union-attr]
                continue
            in_flight = (await asyncio.to_thread(sim.stats))["in_flight"]
            now = list(pool._load["plain"])  # type: ignore[union-attr]
            if now != load or not 0 < sum(load) <= in_flight:
                continue
            busy = max(range(len(load)), key=load.__getitem__)
            os.kill(pids[busy], signal.SIGKILL)
            killed.append(pids[busy])

    config = SimulatorConfig(synthetic=SyntheticConfig(tasks=qs), latency=Latency(ms=1500))
    with SimulatorServer(config) as sim:
        runner = Runner(
            tasks,
            ["single"],
            f"openai:sim@{sim.base_url}",
            out_dir=tmp_path,
            executor="ray",
            concurrency=8,
            environment_options=NO_PYTHON,
            progress=False,
            stream=False,
        )
        watcher = asyncio.create_task(kill_a_busy_worker())
        try:
            s = await runner.run()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        requests = sim.stats()["requests"]
    assert killed, "no worker was killed"
    assert s.complete and s.recorded == 16 and s.errors == 0, s
    got = rows(tmp_path)
    assert sorted(t for _, t in got) == sorted(t.id for t in tasks)
    assert requests > 16  # the killed worker's tasks in flight ran again
    with RunDatabase.open(tmp_path) as db:
        assert {r.attempt for r in db.records()} == {1}


async def test_requests_in_flight_stay_within_the_endpoint_limit_cluster_wide(
    tmp_path: Path, ray_cluster: Any
) -> None:
    tasks, _ = math_tasks(24)
    # long replies: requests overlap however slowly a loaded machine dispatches them
    with SimulatorServer(SimulatorConfig(latency=Latency(ms=400))) as sim:
        model = OpenAICompatModel("sim", base_url=sim.base_url, concurrency=3)
        s = await run(tasks, ["single"], model, tmp_path / "limited", concurrency=12)
        limited = sim.stats()
        sim.reset()
        opts = {"limit_endpoints": False}
        await run(
            tasks, ["single"], model, tmp_path / "free", concurrency=12, executor_options=opts
        )
        free = sim.stats()
    assert s.recorded == 24 and limited["requests"] == 24
    # never passed by two workers together (how close it comes depends on the machine's load)
    assert 1 <= limited["max_in_flight"] <= 3
    assert free["max_in_flight"] > 3  # each worker alone keeps to 3: the limit is the cluster's


async def test_the_run_budget_holds_across_workers_and_resume_finishes(
    tmp_path: Path, ray_cluster: Any, prices: None
) -> None:
    set_price("sim", 2000.0, 2000.0)  # the workers price calls as the driver does
    tasks, qs = math_tasks(20)
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as sim:
        model = f"openai:sim@{sim.base_url}"
        s = await run(tasks, ["single"], model, tmp_path, budget_usd=3.0, concurrency=4)
        assert s.stop_reason == "budget" and 0 < s.recorded < 20
        assert 0 < s.spent_usd <= 3.0  # every reservation went through one budget
        with RunDatabase.open(tmp_path) as db:
            recorded = sum(r.cost for r in db.records())
        assert recorded <= s.spent_usd + 1e-9
        s2 = await run(tasks, ["single"], model, tmp_path, resume=True, budget_usd=100.0)
    assert s2.stop_reason == "completed" and s.recorded + s2.recorded == 20
    assert len(rows(tmp_path)) == 20


async def test_sandbox_kinds_run_on_workers_that_hold_a_docker_unit(
    tmp_path: Path, ray_cluster: Any
) -> None:
    tasks, _ = math_tasks(2)
    profiles: list[str] = []
    runner: Runner | None = None

    def seen(task: Task, result: Any, verdict: Any) -> None:
        assert runner is not None
        profiles.extend(runner.executor.pool._actors)  # type: ignore[attr-defined]

    with SimulatorServer(SimulatorConfig()) as sim:
        # math with its python tool on: the simulator never calls it, no container starts
        runner = Runner(
            tasks,
            ["single"],
            f"openai:sim@{sim.base_url}",
            out_dir=tmp_path,
            executor="ray",
            progress=False,
            on_task_done=seen,
        )
        s = await runner.run()
    assert s.recorded == 2 and s.errors == 0
    assert set(profiles) == {"docker"}


def test_options_and_profiles() -> None:
    from thinktank.cluster.pool import RayOptions, needs_docker, ray_options

    with pytest.raises(ConfigError, match="valid options: address, workers"):
        ray_options({"bogus": 1})
    o = RayOptions()
    assert (
        needs_docker("swe", o, {}) and needs_docker("code", o, {}) and needs_docker("math", o, {})
    )
    assert not needs_docker("math", o, NO_PYTHON) and not needs_docker("text", o, {})


async def test_workers_read_the_memory_bank_from_its_file(tmp_path: Path, ray_cluster: Any) -> None:
    from thinktank.memory import MemoryItem, SQLiteMemoryBank

    from .runner_support import arith_model, arith_tasks

    bank = SQLiteMemoryBank(tmp_path / "memory.sqlite")
    lesson = "Adding twins is doubling: double the number."
    await bank.add([MemoryItem(title="Adding twins", content=lesson)])
    tasks = [t.model_copy(update={"prompt": "Adding twins. " + t.prompt}) for t in arith_tasks(2)]
    try:
        s = await run(tasks, ["single:memory=true"], arith_model(), tmp_path / "run", memory=bank)
    finally:
        bank.close()
    assert s.recorded == 2 and s.errors == 0
    with RunDatabase.open(tmp_path / "run") as db:
        results = [
            r.result.model_dump_json() if r.result else "" for r in db.records(with_result=True)
        ]
    assert len(results) == 2 and all(lesson in r for r in results)
