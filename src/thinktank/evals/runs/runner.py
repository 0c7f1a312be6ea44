"""The eval runner: many tasks through one or more graphs, recorded as they finish.

    runner = Runner(tasks, {"single": topology("single")}, "openai:gpt-4o-mini",
                    concurrency=8, budget_usd=2.0, out_dir="runs/math")
    summary = await runner.run()            # or runner.run_sync()

Settings (keywords, or a :class:`~thinktank.evals.runs.config.RunnerConfig`) are plain
data; live objects (tasks, graphs, models, ``memory``, ``judge``, ``on_task_done``, an
executor) are arguments.

Jobs are (task, graph) pairs in task order (every graph sees the same tasks when a
budget stops the run early). Up to ``concurrency`` run at once; each finished job is
appended to the run database in one transaction (:mod:`thinktank.evals.runs.records`),
so a killed run resumes (``resume=True``) without duplicates or losses.

Budgets: each graph's ``GraphSpec.budget`` limits every task it runs; ``budget_usd``
limits the run, its total across sessions; every model call is admitted by it
(:func:`~thinktank.llm.admission.admit`) and near its end only jobs it can pay for
start (:mod:`thinktank.evals.runs.pacing`). A job the run budget refused is
*interrupted* (not recorded: it runs again on resume); one cut by its graph's own
budget is recorded ``budget_exhausted`` and counted *truncated*. Memory experiments
(split, ablation, repetitions): :mod:`thinktank.evals.runs.experiments`.

Before anything starts, every model the run will call (the models given, model
strings named by nodes, the judge, a hook's ``model``) is checked once per endpoint
(:func:`~thinktank.llm.preflight.check_models`); an unreachable one stops the run
before its directory is touched. ``check_models=False`` skips the check.

``stream=True`` processes tasks one at a time, in order (graphs of a task in
parallel), and calls ``on_task_done(task, result, verdict)`` after each task before
the next starts — how memory learning lets later tasks see earlier lessons.
Without ``stream`` the hook is called as results arrive, on judged results only. Its
calls are charged to the run budget; each call leaves a ``task_report`` event (graph,
task, the keys of a mapping it returns: how :class:`~thinktank.learning.MemoryLearner`
records what it learned), or ``hook_error``; a resumed run first calls it on recorded
results that have neither (a stop between a result and its learning step).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from thinktank.errors import ConfigError
from thinktank.evals.runs.config import RunnerConfig, runner_config
from thinktank.evals.runs.executors import Executor, make_executor
from thinktank.evals.runs.experiments import (
    before_memory_run,
    describe_hook,
    paired_jobs,
    plan_memory,
)
from thinktank.evals.runs.pacing import Pacer, plan_jobs
from thinktank.evals.runs.progress import Progress
from thinktank.evals.runs.records import RunDatabase, lock_run_dir, write_run_json
from thinktank.evals.runs.run_types import INTERRUPTED, RunConfig, RunSummary, TaskRecord, cause_of
from thinktank.evals.runs.sweep import GraphEntry, entries_from, with_variants
from thinktank.evals.runs.worker import RUN_BUDGET_NAME, TaskJob, TaskWorker
from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.llm.ledger import scope

log = logging.getLogger(__name__)

TaskHook = Callable[[Task, Any, Any], Any]
"""``on_task_done(task, run_result, verdict)``; sync or async."""


class Runner:
    """Runs tasks through graphs and records every result in ``out_dir``."""

    def __init__(
        self,
        tasks: Sequence[Task],
        graphs: Mapping[str, GraphSpec | str] | Sequence[GraphEntry | GraphSpec | str],
        models: Mapping[str, ChatModel | str] | ChatModel | str | None = None,
        config: RunnerConfig | None = None,
        *,
        memory: Any = None,
        judge: ChatModel | None = None,
        on_task_done: TaskHook | None = None,
        executor: str | Executor | None = None,
        **settings: Any,
    ) -> None:
        """``settings`` are :class:`RunnerConfig` fields (``out_dir=``, ``concurrency=`` …),
        on top of ``config``; ``executor`` is a name (a setting) or an executor object."""
        if isinstance(executor, str):
            settings["executor"] = executor
        self.config = cfg = runner_config(config, settings)
        ids = [t.id for t in tasks]
        dup = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) < len(ids) else []
        if dup:
            raise ConfigError(f"task ids must be unique within a run; repeated: {dup[:10]}")
        self.tasks = list(tasks)
        self.graphs = with_variants(
            entries_from(graphs), repeat=cfg.repeat, ablation=cfg.memory_ablation
        )
        self.learn_tasks = plan_memory(self.tasks, self.graphs, cfg, on_task_done)
        self.models, self.memory, self.judge = models, memory, judge
        self.on_task_done, self.out_dir = on_task_done, cfg.out_dir
        budget = cfg.budget_usd
        self.run_budget = (
            Budget(max_usd=budget, name=RUN_BUDGET_NAME) if budget is not None else None
        )
        self._entries = {g.label: g for g in self.graphs}
        self._executor_arg: str | Executor = executor if executor is not None else cfg.executor
        self._spent = 0.0
        self.pacer = Pacer(self.run_budget)

    # --- configuration ------------------------------------------------------------------

    def run_config(self, worker: TaskWorker | None = None) -> RunConfig:
        """The run config recorded in (and checked against) the run directory."""
        from thinktank import __version__

        loaded = worker.models if worker is not None else {}
        specs = self.models if isinstance(self.models, Mapping) else {"default": self.models}
        cfg = self.config
        return RunConfig(
            suite=cfg.suite,
            suite_options=cfg.suite_options,
            graphs=self.graphs,
            models={k: m.model_id for k, m in loaded.items()},
            model_specs={
                k: str(v) if isinstance(v, str) else v.model_id
                for k, v in specs.items()
                if v is not None
            },
            seed=cfg.seed,
            memory=None if self.memory is None else str(getattr(self.memory, "path", "memory")),
            learning=describe_hook(self.on_task_done),
            memory_split=cfg.memory_split,
            learn_tasks=sorted(self.learn_tasks),
            budget_usd=cfg.budget_usd,
            concurrency=cfg.concurrency,
            limit=cfg.limit,
            stream=cfg.stream,
            version=__version__,
        )

    # --- running ------------------------------------------------------------------------

    def run_sync(self) -> RunSummary:
        """Blocking :meth:`run`."""
        from thinktank._sync import run_sync

        return run_sync(self.run())

    async def run(self) -> RunSummary:
        """Run every job not yet recorded; returns what this session did."""
        t0, cfg = time.perf_counter(), self.config
        worker = TaskWorker(
            self.graphs,
            self.models,
            memory=self.memory,
            environment_options=cfg.environment_options,
            run_budget=self.run_budget,
            judge=self.judge,
        )
        try:
            if cfg.check_models:
                await self._check_models(worker)
            executor = self.executor = make_executor(
                self._executor_arg,
                worker,
                models=self.models,
                concurrency=cfg.concurrency,
                options=cfg.executor_options,
            )
        except BaseException:
            await worker.close()
            raise
        try:
            config = self.run_config(worker)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock = lock_run_dir(self.out_dir)
        except BaseException:
            await worker.close()
            raise
        try:
            db = RunDatabase.for_run(self.out_dir, config, resume=cfg.resume)
        except BaseException:
            lock.close()
            await worker.close()
            raise
        self.db = db
        write_run_json(self.out_dir, config)
        jobs, skipped = plan_jobs(
            self.tasks,
            self.graphs,
            db.keys(),
            seed=cfg.seed,
            run_id=config.fingerprint(),
            retry_errors=cfg.retry_errors,
        )
        jobs = paired_jobs(jobs, self._entries, self.learn_tasks)
        summary = RunSummary(
            out_dir=str(self.out_dir), run_id=config.fingerprint(), total=len(jobs) + skipped
        )
        summary.skipped = skipped
        judged, correct, _ = db.tally()
        self.progress = Progress(
            summary.total,
            done=skipped,
            judged=judged,
            correct=correct,
            budget_usd=cfg.budget_usd,
            enabled=cfg.progress,
        ).start()
        if self.run_budget is not None:
            earlier = db.records()
            summary.spent_before_usd = self.run_budget.spent_usd = db.run_spent_usd(earlier)
            summary.budget_usd = cfg.budget_usd
            for rec in (r for r in earlier if r.status != "error"):  # pace from the start
                self.pacer.record_cost(rec.graph, rec.cost + rec.evaluation_cost)
        self.session = db.start_session(
            {"budget_usd": cfg.budget_usd, "concurrency": cfg.concurrency, "jobs": len(jobs)}
        )
        self._summary = summary
        status = "completed"
        try:
            await executor.start()
            await before_memory_run(self, db, resume=cfg.resume)
            # a memory split learns on its part of the tasks before the rest is evaluated
            learn = [j for j in jobs if j.task.id in self.learn_tasks]
            for phase in (learn, [j for j in jobs if j.task.id not in self.learn_tasks]):
                if not phase or self.pacer.should_stop():
                    continue
                if cfg.stream:
                    await self._run_stream(executor, phase)
                else:
                    await self._run_parallel(executor, phase)
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "cancelled"
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            self.progress.stop()
            with contextlib.suppress(Exception):
                await executor.close()
            summary.spent_usd = self._spend()
            summary.stop_reason = (
                status  # type: ignore[assignment]
                if status in ("cancelled", "failed")
                else ("budget" if self.pacer.stop == "budget" else "completed")
            )
            summary.not_started = (
                summary.total - summary.skipped - summary.recorded - summary.interrupted
            )
            summary.wall_s = time.perf_counter() - t0
            acc = db.accuracy(exclude_tasks=self.learn_tasks)  # a split: held-out tasks
            summary.accuracy = {g.label: acc.get(g.label) for g in self.graphs}
            db.end_session(
                self.session,
                status=status,
                stop_reason=summary.stop_reason,
                spent_usd=summary.spent_usd,
            )
            db.close()
            lock.close()
        return summary

    async def _check_models(self, worker: TaskWorker) -> None:
        """Probe every endpoint the run will call, once (see the module docstring)."""
        from thinktank.llm.preflight import DEFAULT_HINT, check_models

        models: dict[str, ChatModel | str | None] = dict(worker.models)
        for spec in worker.specs.values():
            for n in spec.nodes:
                if n.model not in models and ":" in n.model:  # a model string, not an alias
                    models[n.model] = n.model
        if self.judge is not None:
            models["judge"] = self.judge
        hook_model = getattr(self.on_task_done, "model", None)
        if isinstance(hook_model, ChatModel):
            models["on_task_done"] = hook_model
        await check_models(models, hint=self.config.check_hint or DEFAULT_HINT)

    def _spend(self) -> float:
        """What this session spent."""
        if self.run_budget is None:
            return self._spent
        return self.run_budget.spent_usd - self._summary.spent_before_usd

    async def _run_parallel(self, executor: Executor, jobs: list[TaskJob]) -> None:
        sem = asyncio.Semaphore(self.config.concurrency)
        in_flight: dict[int, str] = {}
        finished = asyncio.Condition()

        async def one(job: TaskJob) -> None:
            try:
                rec = await executor.submit(job)
            finally:
                sem.release()
                in_flight.pop(id(job), None)
                async with finished:
                    finished.notify_all()
            if self._record(job, rec) and self.learns(job.graph, job.task.id):
                await self.call_hook(job.task, rec)

        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                await sem.acquire()

                def startable(job: TaskJob = job) -> bool:
                    return self.pacer.should_stop() or self.pacer.affordable(job, in_flight)

                async with finished:
                    await finished.wait_for(startable)
                if self.pacer.should_stop():
                    sem.release()
                    break
                in_flight[id(job)] = job.graph
                tg.create_task(one(job))

    async def _run_stream(self, executor: Executor, jobs: list[TaskJob]) -> None:
        sem = asyncio.Semaphore(self.config.concurrency)
        groups: dict[int, list[TaskJob]] = {}
        for job in jobs:
            groups.setdefault(job.index, []).append(job)

        async def one(job: TaskJob) -> TaskRecord | None:
            async with sem:
                if self.pacer.should_stop():
                    return None
                rec = await executor.submit(job)
            return rec if self._record(job, rec) else None

        for index in sorted(groups):
            if self.pacer.should_stop():
                break
            group = groups[index]
            recs = await asyncio.gather(*(one(job) for job in group))
            for job, rec in zip(group, recs, strict=True):
                if rec is not None and self.learns(job.graph, job.task.id):
                    await self.call_hook(job.task, rec)

    def _record(self, job: TaskJob, rec: TaskRecord) -> bool:
        """Append a finished job's record; True when it is a judged result for the hook."""
        summary = self._summary
        self._spent += rec.cost + rec.evaluation_cost
        if rec.status == INTERRUPTED:
            summary.interrupted += 1
            self.pacer.stop = "budget"
            self.db.event(
                self.session, "interrupted", graph=job.graph, task=job.task.id, cost=rec.cost
            )
            return False
        if not self.db.append(rec, replace_error=job.attempt > 1):
            log.warning("a record for (%s, %s) exists already; kept it", job.graph, job.task.id)
            return False
        summary.recorded += 1
        summary.truncated += rec.truncated
        if rec.truncated:
            by = summary.truncated_by_graph
            by[job.graph] = by.get(job.graph, 0) + 1
        if rec.status != "error":
            self.pacer.record_cost(job.graph, rec.cost + rec.evaluation_cost)
        if rec.status in ("error", "degraded"):
            causes = summary.error_causes if rec.status == "error" else summary.degraded_causes
            cause = cause_of(rec.error)
            causes[cause] = causes.get(cause, 0) + 1
        summary.errors += rec.status == "error"
        summary.degraded += rec.status == "degraded"
        total = self.run_budget.spent_usd if self.run_budget is not None else self._spend()
        self.progress.update(rec, spent_usd=total)
        return rec.status != "error"

    def learns(self, graph: str, task_id: str) -> bool:
        """Whether ``on_task_done`` sees a result: not a memory-off arm's, nor one of the
        held-out part of a memory split (no learning there)."""
        entry = self._entries.get(graph)
        if self.on_task_done is None or entry is None or entry.memory_off:
            return False
        return not self.learn_tasks or task_id in self.learn_tasks

    async def call_hook(self, task: Task, rec: TaskRecord) -> None:
        assert self.on_task_done is not None
        try:
            with scope(budget=self.run_budget):  # what the hook spends counts on the run
                out = self.on_task_done(task, rec.result, rec.verdict)
                if inspect.isawaitable(out):
                    out = await out
            # every call leaves an event: a resumed run learns from what has none
            extra = dict(out) if isinstance(out, Mapping) else {}
            self.db.event(self.session, "task_report", graph=rec.graph, task=task.id, **extra)
        except Exception as exc:
            log.warning("on_task_done failed for task %s: %s", task.id, exc, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            self.db.event(self.session, "hook_error", graph=rec.graph, task=task.id, error=error)
