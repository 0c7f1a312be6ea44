"""Which jobs a session of a run starts, and when it stops starting them.

:func:`plan_jobs` lists the (task, graph) jobs that have no record yet, in task order
(every graph sees the same tasks when a budget stops the run early). :class:`Pacer`
keeps the session within the run budget: once the budget is spent no job starts, and
near its end a job starts only when the budget can pay for it on top of the jobs in
flight (a job the budget cuts short is interrupted, its money spent for nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.runs.worker import TaskJob
from thinktank.evals.tasks.task import Task
from thinktank.llm.budget import Budget


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of repetition ``repeat`` of a run seeded ``seed`` (the first keeps it)."""
    if repeat <= 1:
        return seed
    digest = hashlib.sha256(f"{seed}:repeat:{repeat}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def plan_jobs(
    tasks: Sequence[Task],
    graphs: Sequence[GraphEntry],
    keys: Mapping[tuple[str, str], tuple[str, int]],
    *,
    seed: int,
    run_id: str,
    retry_errors: bool,
) -> tuple[list[TaskJob], int]:
    """``(jobs, skipped)``: the jobs to run and how many already have a record.

    ``keys`` maps (graph, task id) to the recorded (status, attempt)
    (:meth:`~thinktank.evals.runs.records.RunDatabase.keys`); with ``retry_errors`` an
    ``error`` record's job runs again as its next attempt.
    """
    jobs: list[TaskJob] = []
    skipped = 0
    for i, task in enumerate(tasks):
        for g in graphs:
            seen = keys.get((g.label, task.id))
            if seen is None:
                attempt = 1
            elif seen[0] == "error" and retry_errors:
                attempt = seen[1] + 1
            else:
                skipped += 1
                continue
            jobs.append(
                TaskJob(
                    graph=g.label,
                    task=task,
                    index=i,
                    seed=repeat_seed(seed, g.repeat),
                    run_id=run_id,
                    attempt=attempt,
                )
            )
    return jobs, skipped


class Pacer:
    """Stops a session at the run budget and paces job starts near its end."""

    def __init__(self, run_budget: Budget | None) -> None:
        self.run_budget = run_budget
        self.stop: str | None = None
        """``"budget"`` once the run budget stopped the session."""
        self.job_costs: dict[str, tuple[float, int]] = {}
        """Graph label → (total, count) of what its recorded jobs cost (earlier sessions' too)."""
        self._all = (0.0, 0)

    def should_stop(self) -> bool:
        """Whether no job may start any more (the run budget is spent)."""
        b = self.run_budget
        if self.stop is None and b is not None and b.max_usd is not None:
            if b.spent_usd >= b.max_usd or b.exhausted:
                self.stop = "budget"
        return self.stop is not None

    def record_cost(self, graph: str, cost: float) -> None:
        """A recorded job of ``graph`` cost ``cost`` (graph and judging)."""
        total, count = self.job_costs.get(graph, (0.0, 0))
        self.job_costs[graph] = (total + cost, count + 1)
        self._all = (self._all[0] + cost, self._all[1] + 1)

    def mean_cost(self, graph: str) -> float | None:
        """What a job of ``graph`` costs on average (any graph's jobs before its own finish)."""
        total, count = self.job_costs.get(graph) or self._all
        return total / count if count else None

    def affordable(self, job: TaskJob, in_flight: Mapping[int, str]) -> bool:
        """Whether the run budget can pay for ``job`` on top of the jobs in flight, each
        counted at its graph's mean cost. Near the budget's end this starts only jobs that
        can finish (a job the budget cuts short is interrupted, its money spent for
        nothing); with nothing in flight a job always starts, so the budget is used up."""
        b = self.run_budget
        if b is None or b.max_usd is None or not in_flight:
            return True
        mean = self.mean_cost(job.graph)
        if mean is None:
            return True
        committed = b.spent_usd + sum(self.mean_cost(g) or 0.0 for g in in_flight.values())
        return committed + mean <= b.max_usd
