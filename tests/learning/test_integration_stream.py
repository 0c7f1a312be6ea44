"""Streaming runs on the simulator: lessons written by earlier tasks reach later ones and
raise their success rate; every learning mode runs end to end through the eval runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.learning._stream import (
    boost_of,
    correct_by_task,
    eval_tasks,
    family_stream,
    reports,
    sim_config,
    stream_run,
)
from thinktank.evals.runs.records import RunDatabase
from thinktank.llm.simulator import SimulatorServer, TaskSet
from thinktank.memory import SQLiteMemoryBank, SQLiteSheetStore

STREAM = family_stream(32)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    # draws that do not depend on the prompt: a lesson changes a task's outcome only through
    # its boost, so the paired runs below differ by what memory did and nothing else (by
    # default a lesson in the prompt makes it a different sample, which can also worsen a task)
    with SimulatorServer(sim_config(STREAM, prompt_sensitivity=0.0)) as server:
        yield server


def _system_prompt(out: Path, graph: str, task_id: str) -> str:
    with RunDatabase.open(out) as db:
        result = db.result(graph, task_id)
    assert result is not None
    solver = next(o for o in result.trace.outputs if o.role == "solver")
    return str((solver.trajectory or {})["messages"][0]["content"])


async def test_later_tasks_retrieve_what_earlier_tasks_wrote_and_get_the_boost(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    tasks = eval_tasks(STREAM)
    model = sim.model("sim")
    graph = "single:memory=true"
    base, _ = await stream_run(tasks, graph, model, tmp_path / "plain")
    run, learner = await stream_run(tasks, graph, model, tmp_path / "mem", learn="reasoningbank")
    assert base.recorded == run.recorded == len(tasks) and learner is not None

    order = {t.id: i for i, t in enumerate(tasks)}
    written: dict[str, str] = {}  # item id -> task that wrote it
    reused = 0
    for rep in reports(tmp_path / "mem"):
        assert rep["judge"] == "ground_truth" and rep["warnings"] == []
        for item in rep["shown"]:  # only lessons of tasks that came before
            assert order[written[item]] < order[rep["task_id"]]
            reused += 1
        written.update((i, rep["task_id"]) for i in rep["items"])
    assert written and reused >= len(tasks) // 2

    # the lesson is the strategy the simulator rewards, learned from a success
    bank = SQLiteMemoryBank(tmp_path / "mem.sqlite")
    try:
        items = bank.scan_sync()
        strategies = set(boost_of(STREAM).values())
        assert all(i.content in strategies and i.kind == "strategy" for i in items)
        assert {i.provenance.judge for i in items} == {"ground_truth"}
        assert {i.provenance.method for i in items} == {"reasoningbank"}
        assert sum(i.usage.used_in_success + i.usage.used_in_failure for i in items) >= reused
    finally:
        bank.close()

    # retrieval finds the task's own family, whose strategy the simulator boosts
    boosted = [
        t.id
        for t in tasks[len(tasks) // 2 :]
        if boost_of(STREAM)[t.id] in _system_prompt(tmp_path / "mem", graph, t.id)
    ]
    assert len(boosted) >= len(tasks) // 2 - 2

    # same seeds: memory only adds successes (the boost raises p for the same draws)
    plain, mem = correct_by_task(tmp_path / "plain"), correct_by_task(tmp_path / "mem")
    assert all(mem[t] for t, ok in plain.items() if ok)
    second = [t.id for t in tasks[len(tasks) // 2 :]]
    assert sum(mem[t] for t in second) >= sum(plain[t] for t in second) + 3


GRAPHS = {
    "reasoningbank": "single:memory=true",
    "matts_parallel": "best_of_n:n=4,memory=true",
    "matts_sequential": "refine:k=3,iterations=2,memory=true",
    "cheatsheet_cumulative": "single:memory=true",
    "cheatsheet_synthesis": "best_of_n:n=2,memory=true,memory_k=4",
}


@pytest.mark.parametrize("mode", list(GRAPHS))
async def test_every_learning_mode_runs_in_a_stream(
    mode: str, sim: SimulatorServer, tmp_path: Path
) -> None:
    tasks = eval_tasks(TaskSet(questions=STREAM.questions[:16]))
    run, learner = await stream_run(
        tasks, GRAPHS[mode], sim.model("sim"), tmp_path / "run", learn=mode
    )
    assert run.recorded == len(tasks) and learner is not None
    reps = reports(tmp_path / "run")
    assert len(reps) == len(tasks) and {r["mode"] for r in reps} == {mode}
    assert all(r["warnings"] == [] and r["skipped"] is None for r in reps)
    later = reps[len(reps) // 2 :]
    bank = SQLiteMemoryBank(tmp_path / "run.sqlite")
    try:
        if mode == "cheatsheet_cumulative":
            sheet = SQLiteSheetStore(bank).load_sync("cheatsheet")
            assert sheet.version == len(tasks) and bank.count_sync() == 0
            assert any(text in sheet.text for text in boost_of(STREAM).values())
            assert all(r["shown"][0].startswith("cheatsheet:cheatsheet@v") for r in later)
            return
        assert bank.count_sync() == sum(len(r["items"]) for r in reps) > 0
        assert sum(r["used_recorded"] for r in later) > 0
        if mode == "cheatsheet_synthesis":
            assert all(s.startswith("cheatsheet:synth:") for r in later for s in r["shown"])
        elif mode == "matts_parallel":
            assert all(r["method"] == mode and r["samples"] == 4 for r in reps)
            mixed = [r for r in reps if len(set(r["sample_outcomes"])) == 2]
            assert mixed  # successes contrasted with failures
            methods = {i.provenance.method for i in bank.scan_sync()}
            assert methods == {"matts_parallel"}
        elif mode == "matts_sequential":
            chains = [r for r in reps if r["method"] == mode]
            assert chains and all(r["samples"] >= 2 for r in chains)
            fallbacks = [r for r in reps if r["method"] == "reasoningbank"]
            assert all("refinement chain" in r["notes"][0] for r in fallbacks)
    finally:
        bank.close()


async def test_task_reports_are_json_in_the_run_directory(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    tasks = eval_tasks(TaskSet(questions=STREAM.questions[:4]))
    await stream_run(tasks, "single:memory=true", sim.model("sim"), tmp_path / "r", learn="reasoningbank")  # fmt: skip
    with RunDatabase.open(tmp_path / "r") as db:
        events = db.events("task_report")
    assert [(e["graph"], e["task"]) for e in events] == [
        ("single:memory=true", t.id) for t in tasks
    ]
    assert all(json.dumps(e["memory"]) for e in events)
    assert all(e["memory"]["calls"] == 1 and e["memory"]["tokens"] > 0 for e in events)
