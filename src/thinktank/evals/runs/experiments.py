"""The memory experiments of an eval run, as the runner plans them: the ablation's arms,
the split of the tasks into a learning part and a held-out part, and what the run
records of its learner. (The report's side: :mod:`thinktank.evals.reports.experiments`.)"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from thinktank.errors import ConfigError
from thinktank.evals.runs.config import RunnerConfig
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.runs.worker import TaskJob
from thinktank.evals.tasks.task import Task

log = logging.getLogger(__name__)


def plan_memory(
    tasks: Sequence[Task], graphs: Sequence[GraphEntry], cfg: RunnerConfig, hook: Any
) -> set[str]:
    """Check the run's memory settings; the ids of the tasks a memory split learns on
    (empty without one)."""
    if cfg.memory_ablation and not any(g.memory_off for g in graphs):
        raise ConfigError(
            "the memory ablation compares each graph that reads memory with memory off, "
            "but no graph reads memory: turn it on in the topology, e.g. "
            "--graph 'best_of_n:n=4,memory=true'"
        )
    if cfg.repeat > 1 and hook is not None:
        raise ConfigError(
            "repetitions of a learning run would share one memory bank and learn from each "
            "other, so they would not be independent: run each repetition on its own bank "
            "(e.g. --seed 1 --memory bank-1.sqlite, then --seed 2 --memory bank-2.sqlite), "
            "or use --repeat with a bank that is only read (no --learn)"
        )
    if cfg.memory_split is None:
        return set()
    if hook is None:
        raise ConfigError(
            "a memory split learns on one part of the tasks and evaluates on the rest: "
            "it needs a learner (--learn MODE with --memory DB)"
        )
    return learn_split(tasks, cfg.memory_split, cfg.seed)


def paired_jobs(
    jobs: list[TaskJob], entries: Mapping[str, GraphEntry], learn_tasks: set[str]
) -> list[TaskJob]:
    """``jobs`` without a split's memory-off arm on the tasks learned on (nothing there
    to compare: those tasks are not evaluated)."""
    return [j for j in jobs if not (entries[j.graph].memory_off and j.task.id in learn_tasks)]


def learn_split(tasks: Sequence[Task], fraction: float, seed: int) -> set[str]:
    """The ids of the tasks a memory split learns on: each task whose hash of the seed
    and its id falls below ``fraction``, so a task's part does not depend on the other
    tasks (``--limit`` may change on resume); at least one task learns and one is held out."""
    if len(tasks) < 2:
        raise ConfigError("a memory split needs at least 2 tasks (one to learn on, one to test)")
    rank = {t.id: _unit(seed, t.id) for t in tasks}
    chosen = {i for i, u in rank.items() if u < fraction}
    order = sorted(rank, key=rank.__getitem__)
    if not chosen:
        chosen = {order[0]}
    elif len(chosen) == len(rank):
        chosen.discard(order[-1])
    return chosen


def _unit(seed: int, task_id: str) -> float:
    digest = hashlib.sha256(f"{seed}:learn:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


async def catch_up_learning(
    db: RunDatabase,
    tasks: Sequence[Task],
    learns: Callable[[str, str], bool],
    hook: Callable[[Task, TaskRecord], Awaitable[None]],
) -> int:
    """Give the learner the recorded results it never saw: a run stopped between a
    result and its learning step would otherwise resume without that lesson. In task
    order; returns how many."""
    seen = {(e.get("graph"), e.get("task")) for e in db.events("task_report")}
    seen |= {(e.get("graph"), e.get("task")) for e in db.events("hook_error")}
    by_id = {t.id: t for t in tasks}
    missed = [
        r
        for r in sorted(db.records(), key=lambda r: r.task_index)
        if r.status != "error"
        and r.task_id in by_id
        and (r.graph, r.task_id) not in seen
        and learns(r.graph, r.task_id)
    ]
    for rec in missed:
        rec.result = db.result(rec.graph, rec.task_id)
        await hook(by_id[rec.task_id], rec)
    if missed:
        log.warning("learned from %d recorded result(s) the last session did not", len(missed))
    return len(missed)


async def oracle_lessons(memory: Any) -> str | None:
    """A note when the memory a run reads holds lessons judged with a suite's labels
    (learned by an earlier oracle run): results read from it are oracle ones too."""
    bank = getattr(memory, "bank", memory)
    scan = getattr(bank, "scan", None)
    if memory is None or scan is None:
        return None
    try:
        items = await scan()
    except Exception:  # a memory without a scannable store: nothing to say
        return None
    n = sum(getattr(i.provenance, "judge", None) == "ground_truth" for i in items)
    if not n:
        return None
    return (
        f"ORACLE lessons: {n} of the {len(items)} items in the memory this run read were "
        "judged with a suite's labels (an earlier run with --learn-judge oracle); results "
        "with memory are then not what a deployment without labels gets."
    )


async def before_memory_run(runner: Any, db: RunDatabase, *, resume: bool) -> None:
    """What a session does before its jobs: a resumed learning run learns from what its
    stop skipped; a note when the memory read holds oracle lessons."""
    if resume and runner.on_task_done is not None:
        await catch_up_learning(db, runner.tasks, runner.learns, runner.call_hook)
    if note := await oracle_lessons(runner.memory):
        db.event(runner.session, "note", text=note)


def describe_hook(hook: Any) -> dict[str, Any] | None:
    """What a learning hook says of itself (``describe()``), recorded with the run."""
    describe = getattr(hook, "describe", None)
    if hook is None or not callable(describe):
        return None
    out = describe()
    return dict(out) if isinstance(out, Mapping) else None
