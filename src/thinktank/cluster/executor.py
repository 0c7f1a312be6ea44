"""The ``ray`` executor of the eval runner.

    thinktank eval --suite math --graph best_of_n:n=8 --model openai:gpt-4o-mini \\
        --executor ray --ray-address auto --out runs/math

    Runner(tasks, graphs, models, out_dir=..., executor="ray",
           executor_options={"address": "auto", "workers": 8})

:class:`RayExecutor` implements the runner's ``Executor`` protocol: ``submit`` sends
the job to a worker actor of the cluster (:class:`~thinktank.cluster.pool.WorkerPool`)
and returns its record, which the runner — the driver — alone writes, so
``--resume`` works exactly as with the local executor. The run budget the runner
made becomes cluster-wide for the run (its totals mirror the cluster's), so the
runner's checks — no job starts once it is spent — see every worker's spending.
The endpoint limit and the failure handling are the pool's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thinktank.cluster.pool import RayOptions, WorkerPool
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.evals.runs.worker import TaskJob, TaskWorker


class RayExecutor:
    """Runs the runner's jobs on a Ray cluster.

    Args:
        worker: the driver's task worker; each cluster worker builds the same (graphs,
            environment options, memory, judge) and shares its run budget.
        models: what the models were given as (strings are loaded on each node);
            default: the worker's loaded models.
        concurrency: jobs in flight (sizes the worker pool).
        options: :class:`RayOptions` (or a mapping of its fields).
    """

    def __init__(
        self,
        worker: TaskWorker,
        *,
        models: Any = None,
        concurrency: int = 8,
        options: RayOptions | Mapping[str, Any] | None = None,
    ) -> None:
        self.worker = worker
        self.pool = WorkerPool(worker, models=models, concurrency=concurrency, options=options)

    async def start(self) -> None:
        await self.pool.start()
        budget = self.worker.run_budget
        if budget is not None and self.pool.budget is not budget:
            await self.pool.share_budget(budget)

    async def submit(self, job: TaskJob) -> TaskRecord:
        return await self.pool.run(job)

    async def close(self) -> None:
        try:
            await self.pool.close()
        finally:
            await self.worker.close()

    async def prestart(self, kinds: list[str]) -> list[int]:
        """Start (and wait for) the workers of task ``kinds`` before the run; their pids."""
        await self.start()
        return await self.pool.prestart(kinds)

    async def worker_pids(self) -> list[int]:
        """Process ids of the worker actors started so far."""
        return await self.pool.worker_pids()
