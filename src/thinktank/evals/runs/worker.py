"""Run one task through one graph and judge it: the unit of work of every executor.

:meth:`TaskWorker.run_job` takes a :class:`TaskJob` (plain data: graph label, task,
seed) and returns a :class:`~thinktank.evals.runs.run_types.TaskRecord` (plain data). It
owns what that needs — loaded models, compiled graphs, task environments started
once — and writes nothing: the driver alone appends records to the run database.
An executor (:mod:`thinktank.evals.runs.executors`) decides *where* ``run_job`` runs:
the local one calls it in the driver's event loop; a remote executor (e.g. Ray actors,
each holding a ``TaskWorker``) sends jobs out and records back as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from thinktank import telemetry
from thinktank.agents.roles import is_function
from thinktank.errors import BudgetExceeded
from thinktank.evals.environments.base import TaskEnvironment, environment_for
from thinktank.evals.runs.run_types import EVALUATION_USAGE, INTERRUPTED, TaskRecord, TaskStatus
from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.tasks.evaluators import Verdict, evaluate
from thinktank.evals.tasks.task import Task
from thinktank.graphs.compiler import CompiledGraph, RunResult, compile
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.llm.config import load_model
from thinktank.llm.ledger import UsageLedger, scope
from thinktank.tools.base import Tool

log = logging.getLogger(__name__)

RUN_BUDGET_NAME = "run budget"
"""Name of the run-wide budget; refusals by it mark a task as interrupted."""

_CHEAP_EVALUATORS = frozenset({"numeric", "string", "choice", "game24"})
_COMPILED_CACHE = 64


_TASK_TOOLS: contextvars.ContextVar[dict[str, Tool[Any]] | None] = contextvars.ContextVar(
    "thinktank_task_tools", default=None
)


class TaskToolSlot(Tool[Any]):
    """Stands in a compiled graph for the same-named tool of whichever task is running.

    Environments give each task fresh tool objects (its own sandbox, its own
    repository), but compiling a graph costs milliseconds. Graphs are compiled once
    per *kind* of toolset (names, descriptions, argument models) with slots, and
    each slot forwards to the running task's tool, found through a context variable
    that LangGraph's tasks inherit.
    """

    def __init__(self, proto: Tool[Any]) -> None:
        self.name = proto.name
        self.description = proto.description
        self.args_model = proto.args_model
        self.max_output_chars = proto.max_output_chars

    def current(self) -> Tool[Any]:
        tool = (_TASK_TOOLS.get() or {}).get(self.name)
        if tool is None:
            raise RuntimeError(f"tool {self.name!r} was called outside the task that owns it")
        return tool

    async def run(self, args: Any) -> Any:
        return await self.current().run(args)

    async def invoke(self, arguments: Any = None) -> Any:
        return await self.current().invoke(arguments)


class TaskJob(BaseModel):
    """One unit of work: ``task`` through graph ``graph``."""

    graph: str
    """Graph label (a key of the worker's graphs)."""
    task: Task
    index: int = 0
    """The task's position in the suite (reports keep suite order)."""
    seed: int = 0
    run_id: str = ""
    attempt: int = 1
    """1, or more when an errored record is retried."""


def load_models(
    models: Mapping[str, ChatModel | str] | ChatModel | str | None,
) -> tuple[dict[str, ChatModel], list[ChatModel]]:
    """Aliases → loaded models (``default`` always present), and the ones loaded here."""
    if models is None or isinstance(models, (ChatModel, str)):
        models = {"default": models} if models is not None else {"default": None}  # type: ignore[dict-item]
    out: dict[str, ChatModel] = {}
    owned: list[ChatModel] = []
    for alias, value in models.items():
        m = load_model(value)
        if m is not value:
            owned.append(m)
        out[alias] = m
    if "default" not in out and out:
        out["default"] = next(iter(out.values()))
    return out, owned


class TaskWorker:
    """Runs :class:`TaskJob` s: environment → graph → evaluation → :class:`TaskRecord`.

    ``run_budget`` (a :class:`~thinktank.llm.Budget`) is charged by every model call;
    a task that it refuses is returned with status ``interrupted`` (not a result).
    ``attach_tools``: when a task's environment offers tools, answer-producing nodes
    that name none get all of them (nodes that name tools keep their own list).
    """

    def __init__(
        self,
        graphs: Sequence[GraphEntry] | Mapping[str, GraphSpec],
        models: Mapping[str, ChatModel | str] | ChatModel | str | None = None,
        *,
        memory: Any = None,
        environment_options: Mapping[str, Mapping[str, Any]] | None = None,
        run_budget: Budget | None = None,
        attach_tools: bool = True,
        judge: ChatModel | None = None,
    ) -> None:
        if isinstance(graphs, Mapping):
            self.specs = dict(graphs)
        else:
            self.specs = {g.label: g.spec for g in graphs}
        self.models, self._owned = load_models(models)
        self.memory = memory
        self.environment_options = {k: dict(v) for k, v in (environment_options or {}).items()}
        self.run_budget = run_budget
        self.attach_tools = attach_tools
        self.judge = judge
        self._envs: dict[str, TaskEnvironment] = {}
        self._env_lock = asyncio.Lock()
        self._compiled: OrderedDict[tuple[Any, ...], CompiledGraph] = OrderedDict()

    # --- resources -------------------------------------------------------------------

    async def environment(self, kind: str) -> TaskEnvironment:
        """The started environment of a task kind (started on first use, once)."""
        env = self._envs.get(kind)
        if env is not None:
            return env
        async with self._env_lock:
            if kind not in self._envs:
                opts = dict(self.environment_options.get(kind, {}))
                try:
                    if self.judge is not None and "judge" not in opts:
                        env = environment_for(kind, judge=self.judge, **opts)
                    else:
                        env = environment_for(kind, **opts)
                except TypeError:  # an environment that takes no judge
                    env = environment_for(kind, **opts)
                await env.start()
                self._envs[kind] = env
        return self._envs[kind]

    def compiled(
        self, label: str, tools: Sequence[Tool[Any]] = (), kind: str = ""
    ) -> CompiledGraph:
        """The graph ``label`` compiled for tools like ``tools`` (reused across tasks whose
        tools have the same names, descriptions and argument models; see :class:`TaskToolSlot`).
        Function nodes get the sandbox of the task kind's environment options (``provider``,
        as ``--sandbox`` sets it), else a Docker sandbox with its secure defaults, made only
        when a function asks for it."""
        key = (
            label,
            kind,
            *((t.name, t.description, t.args_model, t.max_output_chars) for t in tools),
        )
        graph = self._compiled.get(key)
        if graph is not None:
            self._compiled.move_to_end(key)
            return graph
        spec = self.specs[label]
        if tools and self.attach_tools:
            names = [t.name for t in tools]
            spec = spec.model_copy(
                update={
                    "nodes": [
                        n.model_copy(update={"tools": names})
                        if n.role in ANSWER_ROLES and not n.tools
                        else n
                        for n in spec.nodes
                    ]
                }
            )
        slots = [TaskToolSlot(t) for t in tools]
        sandbox = None
        if any(is_function(n.role) for n in spec.nodes):
            from thinktank.sandboxes import DockerSandboxConfig

            sandbox = (
                self.environment_options.get(kind, {}).get("provider") or DockerSandboxConfig()
            )
        graph = compile(spec, models=self.models, tools=slots, memory=self.memory, sandbox=sandbox)
        self._compiled[key] = graph
        if len(self._compiled) > _COMPILED_CACHE:
            self._compiled.popitem(last=False)
        return graph

    async def close(self) -> None:
        """Close environments and the models this worker loaded."""
        for env in self._envs.values():
            try:
                await env.close()
            except Exception:  # closing must not hide the run's outcome
                log.warning("closing a task environment failed", exc_info=True)
        self._envs.clear()
        for m in self._owned:
            with contextlib.suppress(Exception):
                await m.aclose()

    # --- the unit of work ---------------------------------------------------------------

    async def run_job(self, job: TaskJob) -> TaskRecord:
        """Run ``job`` and return its record (errors become ``error`` records, never raise)."""
        return await telemetry.eval_task(self._run_job(job), job)

    async def _run_job(self, job: TaskJob) -> TaskRecord:
        task = job.task
        base: dict[str, Any] = {
            "graph": job.graph,
            "task_id": task.id,
            "task_index": job.index,
            "kind": task.kind,
            "attempt": job.attempt,
        }
        t0 = time.perf_counter()
        ctx = None
        result: RunResult | None = None
        try:
            env = await self.environment(task.kind)
            ctx = await env.open(task)
            graph = self.compiled(job.graph, ctx.tools, task.kind)
            payload = {
                "id": task.id,
                "prompt": ctx.prompt or task.prompt,
                "kind": task.kind,
                "metadata": task.metadata,
            }
            token = _TASK_TOOLS.set({t.name: t for t in ctx.tools})
            try:
                # the task's index orders its calls' budget admission: near the run
                # budget's end, the tasks started first finish first
                with scope(budget=self.run_budget, priority=job.index):
                    result = await graph.run(payload, seed=job.seed, run_id=job.run_id)
            finally:
                _TASK_TOOLS.reset(token)
            if self.run_budget is not None and _refused_by_run_budget(result):
                return TaskRecord(**base, status=INTERRUPTED, **_usage(result))
            # judging (an LLM judge, code tests) reserves on the run budget like the run did;
            # what it spent is kept apart from the graph's cost, in the verdict
            judging = UsageLedger()
            try:
                with scope(budget=self.run_budget, ledger=judging, role="evaluator"):
                    verdict = await env.evaluate(
                        task, result.answer, ctx, output=_winner_output(result)
                    )
            except BudgetExceeded as exc:
                if self.run_budget is not None and exc.budget == RUN_BUDGET_NAME:
                    return TaskRecord(**base, status=INTERRUPTED, **_usage(result))
                raise
            spent = judging.totals()
            if spent.calls:
                verdict.details[EVALUATION_USAGE] = {
                    "calls": spent.calls,
                    "tokens": spent.prompt_tokens + spent.completion_tokens,
                    "cost": round(spent.spent_usd, 10),
                }
            with scope(budget=self.run_budget, ledger=judging, role="evaluator"):
                samples = await env.judge_candidates(task, result, ctx)
            if samples is None:
                samples = await _sample_correct(task, result)
        except Exception as exc:
            log.debug("task %s on %s failed", task.id, job.graph, exc_info=True)
            extra = _usage(result) if result is not None else {}
            extra.setdefault("latency_s", time.perf_counter() - t0)
            return TaskRecord(
                **base,
                status=TaskStatus.ERROR,
                error=_describe(exc),
                answer=result.answer if result is not None else None,
                result=result,
                **extra,
            )
        finally:
            if ctx is not None:
                try:
                    await ctx.aclose()
                except Exception:
                    log.warning("closing the context of task %s failed", task.id, exc_info=True)
        rec = TaskRecord(
            **base,
            status=TaskStatus(result.status),
            error=result.error,
            answer=result.answer,
            expected=verdict.expected,
            correct=verdict.correct,
            score=verdict.score,
            reason=verdict.reason,
            sample_correct=samples,
            verdict=verdict,
            result=result,
            **_usage(result),
        )
        return rec


def _usage(result: RunResult) -> dict[str, Any]:
    totals = result.usage.totals
    return {
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "calls": totals.calls,
        "cost": float(result.cost),
        "latency_s": float(result.latency_s),
        "samples": result.samples,
        "samples_requested": result.samples_requested,
        "refused": result.refused,
    }


def _refused_by_run_budget(result: RunResult) -> bool:
    return RUN_BUDGET_NAME in result.refusing_budgets


def _winner_output(result: RunResult) -> Any:
    winner = result.selection.winner if result.selection else None
    return next((o.output for o in result.trace.outputs if o.id == winner), None)


async def _sample_correct(task: Task, result: RunResult) -> list[bool] | None:
    """Judge each final candidate when the task's evaluator is cheap (for pass@k)."""
    if task.kind in ("swe", "code") or len(result.candidates) < 1:
        return None
    if task.evaluator_config().type not in _CHEAP_EVALUATORS:
        return None
    seen: dict[str | None, Verdict] = {}
    out = []
    for c in result.candidates:
        if c.answer not in seen:
            seen[c.answer] = await evaluate(task, c.answer)
        out.append(seen[c.answer].correct)
    return out


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
