"""The driver's side of the cluster: worker actors by resource profile, and dispatch.

A :class:`WorkerPool` sends each job to the least-loaded :class:`TaskActor` of its
*profile*: ``docker`` for task kinds that run sandboxes (each such actor requests
one unit of the custom ``docker`` resource, so it lands on a node with a Docker
engine and uses that engine and its warm pool), ``plain`` for the rest. Actors are
created on first need, sized from the cluster's free CPUs (``RayOptions``).

Cluster-wide limits live in two actors made at start: the endpoint limiter, and,
when a run budget is shared, its :class:`~thinktank.cluster.shared.BudgetActor`
(the driver's own ``Budget`` becomes a mirror of it, so the runner's stop checks
and spend reports see the whole cluster).

A worker whose process dies is restarted by Ray and its jobs retried; when retries
run out the job comes back as an ``error`` record naming the cause (a later
``--resume --retry-errors`` runs it again). Nothing is recorded twice: only the
driver records, once per returned job.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from thinktank._strict import StrictModel
from thinktank.cluster.actor import BudgetRef, TaskActor, WorkerSpec
from thinktank.cluster.connect import (
    Cluster,
    cluster_resources,
    connect,
    forwarded_env,
    started_here,
)
from thinktank.cluster.shared import BudgetActor, BudgetClient, LimiterActor, budget_limits
from thinktank.errors import ConfigError
from thinktank.evals.runs.run_types import TaskRecord, TaskStatus
from thinktank.evals.runs.worker import TaskJob, TaskWorker
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.budget import Budget
from thinktank.memory import SQLiteMemoryBank

log = logging.getLogger(__name__)


class RayOptions(StrictModel):
    """How the ray executor uses the cluster (``--ray-opt KEY=VALUE`` on the CLI)."""

    address: str | None = None
    """``auto``, ``ray://HOST:PORT``, ``HOST:PORT``, ``local`` or ``None`` (a running
    cluster if any, else a private local one); see :mod:`thinktank.cluster.connect`."""
    workers: int | None = Field(default=None, ge=1)
    """Worker actors per profile; default: as many as the free CPUs allow (at least one,
    at most the run's concurrency)."""
    num_cpus: float = Field(default=1.0, ge=0)
    """CPUs each worker actor requests."""
    memory_mb: int | None = Field(default=None, ge=1)
    """Memory each worker actor requests (Ray's ``memory`` resource); none by default."""
    docker_kinds: list[str] = Field(default_factory=lambda: ["swe", "code", "math"])
    """Task kinds whose workers request the ``docker`` resource (math only while its
    ``python`` tool is on)."""
    max_retries: int = Field(default=3, ge=0)
    """Restarts of a worker whose process died (each runs the jobs it held again);
    past them the worker is replaced and its jobs get one more try."""
    limit_endpoints: bool = True
    """Bound requests in flight per endpoint cluster-wide (to the model's ``concurrency``)."""
    forward_env: bool | None = None
    """Send ``THINKTANK_*`` and the models' API-key variables to the workers in their
    runtime environment (which costs each worker a fresh process). ``None``: only when
    the cluster was not started by this process (its workers inherit its environment);
    ``False``: the nodes' own environment must have them."""
    local_cpus: int | None = Field(default=None, ge=1)
    """CPUs of a private local cluster (default: this machine's)."""
    local_docker: int | None = Field(default=None, ge=0)
    """``docker`` units of a private local cluster (default: its CPUs when a Docker
    engine answers here, else none)."""


def ray_options(value: RayOptions | Mapping[str, Any] | None) -> RayOptions:
    """Validated options; unknown or bad ones fail listing the valid ones."""
    if isinstance(value, RayOptions):
        return value
    try:
        return RayOptions(**(value or {}))
    except ValidationError as exc:
        fields = ", ".join(RayOptions.model_fields)
        raise ConfigError(f"bad ray executor options: {exc}; valid options: {fields}") from exc


def needs_docker(kind: str, options: RayOptions, env_options: Mapping[str, Any]) -> bool:
    """Whether tasks of ``kind`` run sandboxes (and so need a node with Docker)."""
    if kind not in options.docker_kinds:
        return False
    return not (kind == "math" and (env_options.get("math") or {}).get("python") is False)


class WorkerPool:
    """Worker actors by profile, dispatch, the shared budget and limiter (see module doc)."""

    def __init__(
        self,
        template: TaskWorker,
        *,
        models: Any = None,
        concurrency: int = 8,
        options: RayOptions | Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.models = models if models is not None else template.models
        self.concurrency = concurrency
        self.options = ray_options(options)
        self.cluster: Cluster | None = None
        self.limiter: Any = None
        self.limiter_name: str | None = None
        self.budget: Budget | None = None
        self._budget_ref: BudgetRef | None = None
        self._generations = itertools.count(1)
        self._actors: dict[str, list[Any]] = {}
        self._load: dict[str, list[int]] = {}
        self._cpus: dict[str, float] = {}
        self._classes: dict[str, Any] = {}
        self._spec: WorkerSpec | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (or start a private cluster) and create the limiter actor."""
        if self.cluster is not None:
            return
        o = self.options
        self.cluster = connect(o.address, num_cpus=o.local_cpus, docker=o.local_docker)
        import ray  # after connect(): how ray is imported depends on the cluster

        if o.limit_endpoints:
            self.limiter_name = f"thinktank-limiter-{uuid.uuid4().hex[:12]}"
            self.limiter = (
                ray.remote(LimiterActor)
                .options(num_cpus=0, max_concurrency=10_000, name=self.limiter_name)
                .remote()
            )
        self._spec = self._worker_spec()

    def _worker_spec(self) -> WorkerSpec:
        t = self.template
        memory: Any = t.memory
        path: str | None = None
        if isinstance(memory, SQLiteMemoryBank):
            # a SQLite connection cannot travel: each worker opens the file (shared storage)
            if str(memory.path) == ":memory:":
                raise ConfigError("an in-memory memory bank cannot be shared with Ray workers")
            memory, path = None, str(memory.path)
        elif memory is not None:
            _check_portable(memory)
        return WorkerSpec(
            graphs=dict(t.specs),
            models=self.models,
            memory=memory,
            memory_path=path,
            environment_options={k: dict(v) for k, v in t.environment_options.items()},
            judge=t.judge,
            attach_tools=t.attach_tools,
            prices=_prices([*t.models.values(), t.judge]),
            limiter=self.limiter_name,
        )

    async def close(self) -> None:
        """Close every worker, drop the shared limits, leave (or stop) the cluster."""
        import ray

        actors = [a for pool in self._actors.values() for a in pool]
        if actors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*(a.close.remote() for a in actors), return_exceptions=True),
                    timeout=60,
                )
        for a in actors:
            with contextlib.suppress(Exception):
                ray.kill(a, no_restart=True)
        self._actors.clear()
        self._load.clear()
        self._cpus.clear()
        self._classes.clear()
        self._spec = None  # a later job starts afresh
        await self.share_budget(None)
        if self.limiter is not None:
            with contextlib.suppress(Exception):
                ray.kill(self.limiter, no_restart=True)
            self.limiter = None
        if self.cluster is not None:
            self.cluster.shutdown()
            self.cluster = None

    # --- the shared budget ------------------------------------------------------------

    async def share_budget(self, budget: Budget | None) -> None:
        """Make ``budget`` cluster-wide (a new authority with its limits; ``budget`` mirrors
        it from now on), or, with ``None``, stop sharing the current one."""
        import ray

        old, ref = self.budget, self._budget_ref
        if old is not None and ref is not None:
            with contextlib.suppress(Exception):
                await old.shared.refresh(old)  # type: ignore[union-attr]
            old.shared = None
            with contextlib.suppress(Exception):
                ray.kill(ref.actor, no_restart=True)
        self.budget, self._budget_ref = None, None
        if budget is None:
            return
        limits = budget_limits(budget)
        actor = ray.remote(BudgetActor).options(num_cpus=0).remote(limits)
        ref = BudgetRef(actor=actor, limits=limits, generation=next(self._generations))
        budget.shared = BudgetClient(actor, "driver")
        self.budget, self._budget_ref = budget, ref

    # --- dispatch ---------------------------------------------------------------------

    def _profile(self, kind: str) -> str:
        return (
            "docker"
            if needs_docker(kind, self.options, self.template.environment_options)
            else "plain"
        )

    def _create(self, profile: str) -> None:
        import ray

        o = self.options
        total, _ = cluster_resources()
        docker = profile == "docker"
        if docker and total.get("docker", 0) < 1:
            raise ConfigError(
                "tasks that run sandboxes need a node with a Docker engine, and no node of "
                "the Ray cluster offers the `docker` resource: start such nodes with "
                "`ray start ... --resources='{\"docker\": 8}'` (after `thinktank sandbox doctor "
                "--fix`), or turn the sandbox off (math: --env-opt math.python=false)"
            )
        # Sized from the cluster's total less what this pool's other profile took (not
        # from the free resources: those lag behind actors just killed, and other jobs'
        # actors come and go); an actor that cannot be placed yet waits for its turn.
        cpus = o.num_cpus
        taken = sum(self._cpus.values())
        n = int((total.get("CPU", 0) - taken) // cpus) if cpus > 0 else int(total.get("CPU", 1))
        if docker:
            n = min(n, int(total.get("docker", 0)))
        if n < 1:  # the other profile holds every CPU: run alongside it instead of waiting
            n, cpus = 1, 0.0
        n = o.workers or max(1, min(n, self.concurrency))
        self._cpus[profile] = n * cpus
        opts: dict[str, Any] = {
            "num_cpus": cpus,
            # A restarted worker runs its jobs again. Retries are unbounded because Ray
            # spends them while the actor restarts; the restarts bound a poisonous job.
            "max_restarts": o.max_retries,
            "max_task_retries": -1,
            "max_concurrency": max(self.concurrency, 1) + 8,
        }
        if o.memory_mb:
            opts["memory"] = o.memory_mb * 1024 * 1024
        if docker:
            opts["resources"] = {"docker": 1}
        forward = o.forward_env if o.forward_env is not None else not started_here()
        env = forwarded_env(self.template.models) if forward else {}
        if env:
            opts["runtime_env"] = {"env_vars": env}
        cls = self._classes[profile] = ray.remote(TaskActor).options(**opts)
        self._actors[profile] = [cls.remote(self._spec) for _ in range(n)]
        self._load[profile] = [0] * n
        log.info("started %d %s worker(s) (%.2g CPU each)", n, profile, cpus)

    async def prestart(self, kinds: list[str]) -> list[int]:
        """Start the workers for tasks of ``kinds`` now and wait until they are up (so a
        run's clock starts with warm workers); their process ids."""
        if self._spec is None:
            await self.start()
        for profile in {self._profile(k) for k in kinds}:
            if profile not in self._actors:
                self._create(profile)
        return await self.worker_pids()

    def workers(self) -> list[Any]:
        """Every worker actor created so far."""
        return [a for pool in self._actors.values() for a in pool]

    async def worker_pids(self) -> list[int]:
        """Process ids of the workers (waits for them to be up)."""
        return list(await asyncio.gather(*(a.ready.remote() for a in self.workers())))

    async def run(self, job: TaskJob, spec: GraphSpec | None = None) -> TaskRecord:
        """Run ``job`` on a worker (with ``spec`` as its graph when given); its record."""
        import ray

        if self._spec is None:
            await self.start()
        profile = self._profile(job.task.kind)
        if profile not in self._actors:
            self._create(profile)
        args = (job.model_dump_json(), None if spec is None else spec.model_dump_json())
        rec: TaskRecord | None = None
        for last in (False, True):
            actors, load = self._actors[profile], self._load[profile]
            i = min(range(len(load)), key=load.__getitem__)
            actor = actors[i]
            load[i] += 1
            try:
                raw = await actor.run.remote(*args, self._budget_ref)
                rec = TaskRecord.model_validate_json(raw)
            except ray.exceptions.ActorDiedError as exc:
                # restarts used up (a task that keeps killing its worker, or a lost
                # node): a fresh worker takes the actor's place, and the job one more try
                self._replace(profile, actor)
                if last:
                    rec = _lost(job, exc, self.options.max_retries)
            except ray.exceptions.RayError as exc:
                rec = _lost(job, exc, self.options.max_retries)
            finally:
                load[i] -= 1
            if rec is not None:
                break
        assert rec is not None
        if self.budget is not None and self.budget.shared is not None:
            await self.budget.shared.refresh(self.budget)
        return rec

    def _replace(self, profile: str, dead: Any) -> None:
        actors = self._actors.get(profile, [])
        for j, a in enumerate(actors):
            if a is dead:
                actors[j] = self._classes[profile].remote(self._spec)
                log.warning("a %s worker died for good; started a new one", profile)


def _check_portable(memory: Any) -> None:
    """Fail clearly for a memory object that cannot be sent to the workers."""
    from ray import cloudpickle

    try:
        cloudpickle.dumps(memory)
    except Exception as exc:
        raise ConfigError(
            f"the ray executor cannot send this memory ({type(memory).__name__}) to its "
            "workers: they open an SQLite memory bank by its path, and other memory objects "
            "must be picklable. Use a bank file without a cheatsheet --learn mode, or the "
            f"local executor ({type(exc).__name__}: {exc})"
        ) from exc


def _prices(models: list[Any]) -> dict[str, tuple[float, float]]:
    """The driver's prices of ``models`` (``None`` entries skipped)."""
    from thinktank.llm.pricing import price_for

    out = {}
    for m in models:
        if m is not None:
            p = price_for(m.price_key)
            out[m.price_key] = (p.input, p.output)
    return out


def _lost(job: TaskJob, exc: BaseException, retries: int) -> TaskRecord:
    """The ``error`` record of a job whose worker kept dying (or failed outside the job)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {first}"[:500]
    return TaskRecord(
        graph=job.graph,
        task_id=job.task.id,
        task_index=job.index,
        kind=job.task.kind,
        attempt=job.attempt,
        status=TaskStatus.ERROR,
        error=f"the Ray worker running this task failed after {retries} retries ({what})",
    )
