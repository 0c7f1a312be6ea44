"""Memory wired into topologies, the eval runner and ``thinktank eval --memory --learn``:
which roles read memory, extraction replies that do not parse, the CLI end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.learning._stream import NO_PYTHON, eval_tasks, family_stream, reports, sim_config
from thinktank.cli.app import app
from thinktank.errors import ConfigError
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.graphs import topology
from thinktank.learning import LearnerConfig, MemoryLearner
from thinktank.llm.simulator import SimulatorServer, TaskSet
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.memory import SQLiteMemoryBank


def test_topology_strings_say_which_roles_read_memory_and_how_much() -> None:
    spec = topology("best_of_n:n=4,select=verifier,memory=true,memory_k=5")
    assert [(n.role, n.memory, n.memory_k) for n in spec.nodes] == [
        ("solver", True, 5),
        ("verifier", False, 3),
    ]
    spec = topology("refine:k=2 + memory:k=2,roles=critic|refiner")
    assert {n.role: n.memory for n in spec.nodes} == {"solver": False, "critic": True, "refiner": True}  # fmt: skip
    assert topology("debate:m=2,memory_k=1").nodes[0].memory  # memory_k alone turns it on
    assert not any(n.memory for n in topology("best_of_n:n=2,memory=false").nodes)
    with pytest.raises(ConfigError, match="match no node"):
        topology("single:memory_roles=verifier")
    with pytest.raises(ConfigError, match="memory=true or memory=false"):
        topology("single:memory=3")


def sloppy_learner_model() -> FunctionModel:
    """Solves ``What is a + b?``; its extraction replies alternate between prose, one
    good item next to a broken one, and a JSON list without the ``items`` key."""
    replies = iter(
        [
            "Sure! Here are some lessons: always double-check.",
            json.dumps({"items": [{"title": ""}, {"title": "Carry", "content": "Carry the one."}]}),
            json.dumps({"lessons": ["x"]}),
        ]
        * 10
    )

    def reply(req: ChatRequest) -> Any:
        if "memory extractor" in str(req.messages[0]["content"]):
            return next(replies)
        a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)", str(req.messages[-1]["content"]))[0])
        return f"Answer: {a + b}"

    return FunctionModel(reply)


async def test_replies_that_do_not_parse_are_skipped_with_a_warning_in_the_task_record(
    tmp_path: Path,
) -> None:
    tasks = [
        Task(id=f"t{i}", kind="math", prompt=f"What is {i} + {i}?", expected=str(2 * i))
        for i in range(6)
    ]
    model = sloppy_learner_model()
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite")
    learner = MemoryLearner(model, bank, config=LearnerConfig(judge="oracle"))
    try:
        summary = await Runner(
            tasks, ["single:memory=true"], model, out_dir=tmp_path / "run", stream=True,
            memory=learner.memory, on_task_done=learner, progress=False,
            environment_options=NO_PYTHON,
        ).run()  # fmt: skip
        assert summary.recorded == 6 and summary.accuracy == {"single:memory=true": 1.0}
        assert bank.count_sync() == 2  # the one good item of replies 2 and 5
    finally:
        bank.close()
    warned = [r["warnings"] for r in reports(tmp_path / "run")]
    assert "no JSON object" in warned[0][0] and "item 1 skipped" in warned[1][0]
    assert "no 'items' list" in warned[2][0] and all(warned)
    assert learner.stats.warnings == 6 and learner.stats.items == 2
    with RunDatabase.open(tmp_path / "run") as db:
        assert db.events("hook_error") == []


STREAM = family_stream(12, families=2)


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, TaskSet]]:
    with SimulatorServer(sim_config(STREAM)) as server:
        yield f"openai:sim@{server.base_url}", STREAM


def test_eval_cli_learns_into_the_bank_and_later_runs_read_it(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1]), tmp_path / "tasks.jsonl")
    db = tmp_path / "memory.sqlite"
    cli = CliRunner()
    common = ["eval", "--suite", str(suite), "--model", sim[0], "--memory", str(db), "--no-report"]
    res = cli.invoke(app, [*common, "--graph", "best_of_n:n=2,memory=true", "--out", str(tmp_path / "a"), "--learn", "matts_parallel", "--stream"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "memory (matts_parallel, judged by the model): learned from 12 results" in res.output
    bank = SQLiteMemoryBank(db)
    try:
        learned = bank.count_sync()
        assert learned > 0
    finally:
        bank.close()
    with RunDatabase.open(tmp_path / "a") as run:
        assert run.config().memory == str(db) and run.config().stream
    # a later run reads the bank without learning
    res = cli.invoke(app, [*common, "--graph", "single:memory=true", "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    with RunDatabase.open(tmp_path / "b") as run:
        outs = [r.result.trace.outputs for r in run.records(with_result=True) if r.result]
    assert outs and all((o[0].trajectory or {})["memory_ids"] for o in outs)


def test_eval_cli_explains_bad_learning_options(tmp_path: Path, sim: tuple[str, TaskSet]) -> None:
    suite = dump_tasks(eval_tasks(sim[1]), tmp_path / "tasks.jsonl")
    base = ["eval", "--suite", str(suite), "--model", sim[0], "--out", str(tmp_path / "x"), "--graph", "single"]  # fmt: skip
    res = CliRunner().invoke(app, [*base, "--learn", "reasoningbank"])
    assert res.exit_code == 1 and "add --memory DB" in res.output
    res = CliRunner().invoke(
        app, [*base, "--memory", str(tmp_path / "m.sqlite"), "--learn", "dream"]
    )
    assert res.exit_code == 1 and "valid modes: reasoningbank, matts_parallel" in res.output
    res = CliRunner().invoke(
        app, [*base, "--memory", str(tmp_path / "m.sqlite"), "--limit", "1", "--no-report"]
    )
    assert res.exit_code == 0 and "no node of these graphs reads memory" in res.output
