"""The optimizer's objective on Ray: every task of every candidate graph on the cluster.

    thinktank optimize --suite math --space space.yaml --model-pool small=openai:gpt-4o-mini \\
        --executor ray --ray-address auto -c 32 --out runs/opt

:class:`RayObjective` is :class:`~thinktank.optimize.RunnerObjective` (prices, model
fingerprint, outcome of a record) with its one hook, ``run_job``, sending the job to
a worker of the cluster together with the candidate's graph: the tasks of an
evaluation run in parallel across the nodes — as many at once as the study's
``concurrency`` — on workers that keep their compiled graphs, task environments
and sandbox pools between evaluations. The optimizer's budget, set by the study
before it evaluates anything, is made cluster-wide before the next task is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from thinktank.cluster.pool import RayOptions, WorkerPool
from thinktank.evals.runs.run_types import TaskRecord
from thinktank.evals.runs.worker import TaskJob
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.optimize.objective import RunnerObjective


class RayObjective(RunnerObjective):
    """The optimizer's objective with tasks run on a Ray cluster (see the module doc).

    Args:
        models: the model pool, alias → model (strings are loaded on each node).
        concurrency: tasks in flight (sizes the worker pool; use the study's).
        options: :class:`RayOptions` (or a mapping of its fields).
        judge, memory, environment_options: as for :class:`RunnerObjective`.
    """

    def __init__(
        self,
        models: Mapping[str, ChatModel | str],
        *,
        concurrency: int = 8,
        options: RayOptions | Mapping[str, Any] | None = None,
        judge: ChatModel | None = None,
        memory: Any = None,
        environment_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            models, judge=judge, memory=memory, environment_options=environment_options
        )
        self.pool = WorkerPool(
            self.worker, models=dict(models), concurrency=concurrency, options=options
        )
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._pending: tuple[Budget | None] | None = None

    def set_budget(self, budget: Budget | None) -> None:
        # applied (made cluster-wide) before the next task is sent
        self.budget = budget
        self._pending = (budget,)

    async def _ready(self) -> None:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:  # a study's run_sync: a new loop
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            await self.pool.start()
            if self._pending is not None:
                (budget,) = self._pending
                self._pending = None
                await self.pool.share_budget(budget)

    async def run_job(self, job: TaskJob, spec: GraphSpec) -> TaskRecord:
        if self._pending is not None or self.pool.cluster is None:
            await self._ready()
        return await self.pool.run(job, spec)

    async def aclose(self) -> None:
        try:
            await self.pool.close()
        finally:
            await super().aclose()
