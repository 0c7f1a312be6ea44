"""The worker actor: one process of the cluster running :class:`TaskJob` s.

A :class:`TaskActor` holds a :class:`~thinktank.evals.runs.worker.TaskWorker` built from a
:class:`WorkerSpec` (graphs, models, environment options…), so compiled graphs,
task environments (its node's Docker engine, its warm sandbox pool) and model
connections are reused by every job it runs. Jobs and records cross the wire as
JSON; the actor writes nothing — the driver records.

It is an async actor: one process runs many jobs at once (model calls wait on the
network). When its process dies, Ray restarts it (``max_restarts``) and runs the
jobs it held again (``max_task_retries``); the new incarnation first releases the
budget reservations and endpoint slots its predecessors still held.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from thinktank import telemetry
from thinktank.evals.runs.run_types import INTERRUPTED, TaskRecord
from thinktank.evals.runs.worker import TaskJob, TaskWorker
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.budget import Budget

log = logging.getLogger(__name__)


@dataclass
class BudgetRef:
    """A cluster-wide budget, as sent with every job: its actor, limits and generation."""

    actor: Any
    limits: dict[str, Any]
    generation: int


@dataclass
class WorkerSpec:
    """What each worker builds its :class:`TaskWorker` from (shipped by Ray's pickling)."""

    graphs: dict[str, GraphSpec] = field(default_factory=dict)
    models: Any = None
    """What the driver was given: model strings are loaded on the worker's node."""
    memory: Any = None
    memory_path: str | None = None
    """An SQLite memory bank reopened by path on the worker (a shared filesystem)."""
    environment_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    judge: Any = None
    attach_tools: bool = True
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Price key → ($/1M input, $/1M output) as the driver prices them (``set_price``
    in the driver reaches the workers)."""
    limiter: str | None = None
    """Name of the :class:`~thinktank.cluster.shared.LimiterActor` (``None``: no cluster
    limit). By name, not handle: a handle would put the spec in the object store, from
    where Ray may fail to restore it when it restarts the actor."""


class TaskActor:
    """Runs jobs for the driver (see the module docstring)."""

    def __init__(self, spec: WorkerSpec) -> None:
        import ray

        from thinktank.cluster.shared import ClusterLimiter
        from thinktank.llm.limits import set_endpoint_limiter
        from thinktank.llm.pricing import set_price

        # A shared budget's reservation is one blocking round trip by design (see
        # cluster/shared.py); Ray would warn about it once per worker.
        os.environ.setdefault("RAY_WARN_BLOCKING_GET_INSIDE_ASYNC", "0")
        self.actor_id = ray.get_runtime_context().get_actor_id() or "driver"
        self.holder = f"{self.actor_id}:{os.getpid()}"
        if spec.limiter is not None:
            limiter = ray.get_actor(spec.limiter)
            limiter.release_holder.remote(self.actor_id, self.holder)
            set_endpoint_limiter(ClusterLimiter(limiter, self.holder))
        for key, (p_in, p_out) in spec.prices.items():
            set_price(key, p_in, p_out)
        # traced when the driver's OTEL_* variables ask (a worker process of its own)
        self._tracing = not telemetry.enabled() and telemetry.configure_from_env()
        memory = spec.memory
        if spec.memory_path is not None:
            from thinktank.memory import SQLiteMemoryBank

            memory = SQLiteMemoryBank(spec.memory_path, create=False)
        self.worker = TaskWorker(
            spec.graphs,
            spec.models,
            memory=memory,
            environment_options=spec.environment_options,
            attach_tools=spec.attach_tools,
            judge=spec.judge,
        )
        self._budget_gen: int | None = None

    def ready(self) -> int:
        """The worker's process id (once it is up)."""
        return os.getpid()

    def _use_budget(self, ref: BudgetRef | None) -> Budget | None:
        from thinktank.cluster.shared import BudgetClient

        if ref is None:
            self.worker.run_budget = None
            self._budget_gen = None
        elif ref.generation != self._budget_gen:
            # earlier incarnations of this actor may have died holding reservations
            ref.actor.release_holder.remote(self.actor_id, self.holder)
            self.worker.run_budget = Budget(
                **ref.limits, shared=BudgetClient(ref.actor, self.holder)
            )
            self._budget_gen = ref.generation
        return self.worker.run_budget

    async def run(self, job_json: str, spec_json: str | None, budget: BudgetRef | None) -> str:
        """Run one job (``spec_json`` replaces its graph when given); the record as JSON."""
        job = TaskJob.model_validate_json(job_json)
        if spec_json is not None:
            self.worker.specs[job.graph] = GraphSpec.model_validate_json(spec_json)
        run_budget = self._use_budget(budget)
        if run_budget is not None and run_budget.shared is not None:
            await run_budget.shared.refresh(run_budget)
            if run_budget.exhausted:  # spent meanwhile: the task does not start
                rec = TaskRecord(
                    graph=job.graph,
                    task_id=job.task.id,
                    task_index=job.index,
                    kind=job.task.kind,
                    attempt=job.attempt,
                    status=INTERRUPTED,
                )
                return rec.model_dump_json()
        rec = await self.worker.run_job(job)
        return rec.model_dump_json()

    async def close(self) -> None:
        """Close task environments, sandbox pools and model connections."""
        await self.worker.close()
        memory = self.worker.memory
        if memory is not None and hasattr(memory, "close"):
            memory.close()
        if self._tracing:
            await asyncio.to_thread(telemetry.shutdown)  # export the spans still batched
