"""The memory experiments of an eval run, as the runner plans them: the ablation's arms,
the split of the tasks into a learning part and a held-out part, and what the run
records of its learner. (The report's side: :mod:`thinktank.evals.reports.experiments`.)"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from thinktank.errors import ConfigError
from thinktank.evals.runs.config import RunnerConfig
from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.runs.worker import TaskJob
from thinktank.evals.tasks.task import Task


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
    """The ids of the tasks a memory split learns on: ``fraction`` of them (at least one,
    never all), chosen by a hash of the seed and each id (stable when tasks are added)."""
    if len(tasks) < 2:
        raise ConfigError("a memory split needs at least 2 tasks (one to learn on, one to test)")
    n = min(len(tasks) - 1, max(1, round(fraction * len(tasks))))
    key = {t.id: hashlib.sha256(f"{seed}:learn:{t.id}".encode()).hexdigest() for t in tasks}
    return set(sorted(key, key=key.__getitem__)[:n])


def describe_hook(hook: Any) -> dict[str, Any] | None:
    """What a learning hook says of itself (``describe()``), recorded with the run."""
    describe = getattr(hook, "describe", None)
    if hook is None or not callable(describe):
        return None
    out = describe()
    return dict(out) if isinstance(out, Mapping) else None
