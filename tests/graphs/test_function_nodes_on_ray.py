"""Cluster workers load function nodes and declared roles from the spec they are sent:
an eval run on a private Ray cluster gives the records the local executor gives."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.graphs import fnodes
from thinktank.agents.roles import register_role, temporary_roles
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.graphs import Graph
from thinktank.graphs.builder import Function
from thinktank.llm.simulator import (
    Question,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """The session's Ray cluster when one runs, else a private one for this module."""
    if importlib.util.find_spec("ray") is None:
        pytest.fail("the Ray tests need the `ray` extra: run `make setup`", pytrace=False)
    import ray

    if ray.is_initialized():
        yield
        return
    from thinktank.cluster.connect import start_local

    started = start_local(num_cpus=2, docker=0)
    try:
        yield
    finally:
        started.shutdown()


async def test_a_ray_worker_runs_function_nodes_and_declared_roles(
    tmp_path: Path, cluster: Any
) -> None:
    qs = TaskSet(
        questions=[
            Question(id=f"q{i}", question=f"What is {i + 3} * {i + 5}?",
                     answer=str((i + 3) * (i + 5)), p_correct=0.4)
            for i in range(4)
        ]
    )  # fmt: skip
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in qs.questions]
    with temporary_roles():
        register_role("careful", instructions="You are a careful solver. End with Answer: X")
        g = Graph("fn")
        s = g.add("careful", n=3)
        g.connect(s, g.add(Function(fnodes.product_check), id="tests")).select("tests")
        spec = g.build()
        rows = {}
        with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as sim:
            for executor in ("local", "ray"):
                out = tmp_path / executor
                summary = await Runner(
                    tasks, {"fn": spec}, f"openai:sim@{sim.base_url}", out_dir=out,
                    executor=executor, progress=False, seed=3,
                    environment_options={"math": {"python": False}},
                ).run()  # fmt: skip
                assert summary.errors == 0 and summary.recorded == 4
                with RunDatabase.open(out) as db:
                    recs = db.records(with_result=True)
                rows[executor] = {
                    r.task_id: (
                        r.answer,
                        r.correct,
                        sorted(
                            (o.target, o.output["score"], o.status)
                            for o in r.result.trace.outputs
                            if o.node == "tests"
                        ),
                    )
                    for r in recs
                }
    assert rows["ray"] == rows["local"]
    assert all(len(v[2]) == 3 for v in rows["ray"].values())  # every candidate scored
