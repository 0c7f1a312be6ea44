"""Shared pieces of the memory integration tests: a family task stream on the simulator,
the eval tasks for it, and a streaming run with or without a memory learner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.run_types import RunSummary
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.learning import LearnerConfig, MemoryLearner
from thinktank.llm.simulator import SimulatorConfig, TaskSet
from thinktank.memory import SQLiteMemoryBank

NO_PYTHON = {"math": {"python": False}}
"""Math tasks without the sandboxed python tool (no Docker)."""


def family_stream(
    n: int = 32, *, families: int = 4, p: float = 0.35, delta: float = 0.45
) -> TaskSet:
    """``n`` arithmetic questions in ``families`` topics; each topic has one strategy boost."""
    return TaskSet.generate(n, seed=7, p_correct=p, families=families, boost_delta=delta)


def sim_config(tasks: TaskSet, **synthetic: Any) -> SimulatorConfig:
    return SimulatorConfig.model_validate(
        {"seed": 3, "synthetic": {"tasks": tasks.model_dump(), **synthetic}}
    )


def eval_tasks(tasks: TaskSet) -> list[Task]:
    return [
        Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in tasks.questions
    ]


def boost_of(tasks: TaskSet) -> dict[str, str]:
    """Question id → its family's strategy text."""
    return {q.id: q.boosts[0].text for q in tasks.questions}


async def stream_run(
    tasks: list[Task],
    graph: str,
    model: Any,
    out: Path,
    *,
    learn: str | None = None,
    config: LearnerConfig | None = None,
    bank_path: Path | None = None,
) -> tuple[RunSummary, MemoryLearner | None]:
    """A streaming run; with ``learn`` a learner of that mode reads and writes ``bank_path``
    (judging by the suite's labels, the oracle, unless ``config`` says otherwise: these
    tests are about what lessons do, not about who judges)."""
    learner = None
    bank = None
    if learn is not None:
        bank = SQLiteMemoryBank(bank_path or out.parent / f"{out.name}.sqlite")
        config = config or LearnerConfig(judge="oracle")
        learner = MemoryLearner(model, bank, mode=learn, config=config)
    try:
        runner = Runner(
            tasks, [graph], model, out_dir=out, stream=True, progress=False,
            memory=learner.memory if learner else None, on_task_done=learner,
            environment_options=NO_PYTHON,
        )  # fmt: skip
        summary = await runner.run()
    finally:
        if bank is not None:
            bank.close()
    return summary, learner


def reports(out: Path) -> list[dict[str, Any]]:
    """The learner's per-task reports stored in a run directory, in task order."""
    with RunDatabase.open(out) as db:
        return [e["memory"] for e in db.events("task_report")]


def correct_by_task(out: Path) -> dict[str, bool]:
    with RunDatabase.open(out) as db:
        return {r.task_id: bool(r.correct) for r in db.records()}
