"""Compile a :class:`GraphSpec` into a LangGraph ``StateGraph`` and run it.

The compiled graph has one LangGraph node per spec node (a worker running one
sample, or a first-m batch), a ``schedule`` node that plans each step with
:class:`~thinktank.graphs.schedule.Scheduler` and fans work out with ``Send``, and
a ``select`` node that picks the final answer. State lists are append-only
reducers, so samples finishing in parallel never overwrite each other. Backends
(models, tools, memory, code executor, checkpointer) are injected; LangGraph is
used through its public API only.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, Field

from thinktank.agents.agent import Agent
from thinktank.errors import BudgetExceeded, ConfigError
from thinktank.graphs._runnable import check_runnable
from thinktank.graphs.runtime import RunContext, current_run, run_context
from thinktank.graphs.schedule import Scheduler
from thinktank.graphs.select import Candidate, SelectionResult, answer_kind, select
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec, NodeSpec
from thinktank.graphs.state import GraphState, NodeOutput, WorkItem
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.llm.config import load_model
from thinktank.llm.ledger import UsageLedger, scope
from thinktank.tools.base import Tool


class RunResult(BaseModel):
    """Everything one run produced; JSON-ready."""

    task_id: str
    answer: str | None
    status: str
    """ok, budget_exhausted, stopped_by_ceo, max_rounds, degraded or error.

    ``degraded``: the run finished, but selection could not use the node it scores
    with (every verifier / judge / fuser call failed), so the answer is the
    majority vote; ``error`` says why."""
    error: str | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    selection: SelectionResult | None = None
    rounds: int = 0
    usage: dict[str, Any] = Field(default_factory=dict)
    cost: float = 0.0
    latency_s: float = 0.0
    budget: dict[str, Any] = Field(default_factory=dict)
    trace: dict[str, Any] = Field(default_factory=dict)
    """``events`` (scheduling, skips, waves, decisions) and ``outputs`` (every sample with its trajectory)."""
    graph: str = ""
    refused_by: str | None = None
    """The budget that refused the run itself (before any sample), if one did."""

    @property
    def refusing_budgets(self) -> set[str]:
        """Names of every budget that refused a call of this run."""
        names = {o.get("refused_by") for o in self.trace.get("outputs", [])} | {self.refused_by}
        return {n for n in names if n}

    @property
    def samples_requested(self) -> int:
        """Answer-producing samples the graph started (run or refused by a budget)."""
        return sum(1 for o in self.trace.get("outputs", []) if o.get("role") in ANSWER_ROLES)

    @property
    def samples(self) -> int:
        """Answer-producing samples that ran (a budget refused none of their calls)."""
        return sum(
            1
            for o in self.trace.get("outputs", [])
            if o.get("role") in ANSWER_ROLES and o.get("status") != "budget_exhausted"
        )

    @property
    def refused(self) -> int:
        """Samples of any role cut short because a budget refused a call."""
        return sum(
            1 for o in self.trace.get("outputs", []) if o.get("status") == "budget_exhausted"
        )

    @property
    def truncated(self) -> bool:
        """A budget cut this run: it did less than its graph asks for."""
        return self.status == "budget_exhausted" or self.refused > 0


def _task_fields(task: Any) -> dict[str, Any]:
    if isinstance(task, str):
        return {
            "id": "task-" + hashlib.sha1(task.encode()).hexdigest()[:10],
            "prompt": task,
            "kind": None,
            "metadata": {},
        }
    if isinstance(task, Mapping):
        data = dict(task)
    elif hasattr(task, "prompt"):
        data = {
            "id": getattr(task, "id", None),
            "prompt": task.prompt,
            "kind": getattr(task, "kind", None),
            "metadata": getattr(task, "metadata", None),
        }
    else:
        raise ConfigError(
            f"a task must be a string, a mapping or an object with .prompt, not {type(task).__name__}"
        )
    if not data.get("prompt"):
        raise ConfigError("the task has no prompt")
    data.setdefault("id", "task-" + hashlib.sha1(str(data["prompt"]).encode()).hexdigest()[:10])
    # metadata carries what execution-based selection needs (tests, entry point)
    meta = data.get("metadata")
    return {
        "id": str(data["id"]),
        "prompt": str(data["prompt"]),
        "kind": data.get("kind"),
        "metadata": dict(meta) if isinstance(meta, Mapping) else {},
    }


def _seed(*parts: Any) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


class CompiledGraph:
    """A spec bound to its backends; :meth:`run` executes it on one task."""

    def __init__(
        self,
        spec: GraphSpec,
        *,
        models: Mapping[str, ChatModel | str] | ChatModel | str | None,
        tools: Mapping[str, Tool[Any]] | Sequence[Tool[Any]] = (),
        memory: Any = None,
        executor: Any = None,
        checkpointer: Any = None,
    ) -> None:
        self.spec = spec
        self.models = self._models(models)
        spec.validate_models(set(self.models))
        check_runnable(spec)
        self.tools = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
        for n in spec.nodes:
            missing = [t for t in n.tools if t not in self.tools]
            if missing:
                raise ConfigError(
                    f"node {n.id!r} asks for tools {missing} that were not given; given: {sorted(self.tools)}"
                )
        self.memory = memory
        self.executor = executor
        self.checkpointer = checkpointer
        self.scheduler = Scheduler(spec)
        self.graph = self._build().compile(checkpointer=checkpointer)

    @staticmethod
    def _models(
        models: Mapping[str, ChatModel | str] | ChatModel | str | None,
    ) -> dict[str, ChatModel]:
        if models is None or isinstance(models, (ChatModel, str)):
            return {"default": load_model(models)}
        out = {k: load_model(v) for k, v in models.items()}
        if "default" not in out and out:
            out["default"] = next(iter(out.values()))
        return out

    def model_for(self, node: NodeSpec) -> ChatModel:
        if node.model in self.models:
            return self.models[node.model]
        model = load_model(node.model)
        self.models[node.model] = model
        return model

    # --- the LangGraph graph -------------------------------------------------------------

    def _build(self) -> Any:
        g: Any = StateGraph(GraphState)
        g.add_node("schedule", self._schedule)
        for n in self.spec.nodes:
            g.add_node(n.id, self._worker(n))
            g.add_edge(n.id, "schedule")
        g.add_node("select", self._select)
        g.add_edge(START, "schedule")
        g.add_conditional_edges(
            "schedule", self._route, [*(n.id for n in self.spec.nodes), "select"]
        )
        g.add_edge("select", END)
        return g

    async def _schedule(self, state: dict[str, Any]) -> dict[str, Any]:
        ctx = current_run()
        exhausted = ctx is not None and ctx.budget is not None and ctx.budget.exhausted
        update: dict[str, Any] = {"progress": {}, "events": []}
        decisions: list[dict[str, Any]] = []
        view = dict(state)
        while True:
            plan = self.scheduler.plan(view, budget_exhausted=exhausted)
            update["progress"].update(plan.progress)
            update["events"] += plan.events
            decisions += plan.decisions
            if plan.next_round is None or plan.items or plan.finish is not None:
                break
            # a round ended: plan the next round's first step now, so the step that
            # follows runs it (routing with nothing pending would end the run)
            control = {"active": {}, "direction": "", "max_tokens": None, **plan.control}
            update["round"], update["control"] = plan.next_round, control
            update["events"].append({"kind": "round_start", "round": plan.next_round})
            view = {
                **view,
                "round": plan.next_round,
                "control": control,
                "progress": {**(view.get("progress") or {}), **plan.progress},
            }
        update["pending"] = plan.items
        if decisions:
            update["decisions"] = decisions
        if plan.finish is not None:
            update["status"] = plan.finish
        if not plan.items and plan.finish is None:
            update["status"] = "error"
            update["error"] = "the scheduler found nothing to run (is a node unreachable?)"
        return update

    def _route(self, state: dict[str, Any]) -> list[Send] | str:
        if state.get("status"):
            return "select"
        pending = state.get("pending") or []
        if not pending:
            return "select"
        if self.checkpointer is not None:
            # one LangGraph task per work item: each finished sample is checkpointed
            return [Send(item["node"], item) for item in pending]
        # without a checkpointer nothing is saved per task, so a node's items run in one
        # task (gathered inside it): LangGraph's per-task cost is paid once per node
        batches: dict[str, list[WorkItem]] = {}
        for item in pending:
            batches.setdefault(item["node"], []).append(item)
        return [
            Send(nid, items[0] if len(items) == 1 else {"node": nid, "batch": items})
            for nid, items in batches.items()
        ]

    def _worker(self, node: NodeSpec) -> Any:
        async def work(item: dict[str, Any]) -> dict[str, Any]:
            if "batch" in item:
                done = await asyncio.gather(*(self._run_item(node, i) for i in item["batch"]))
                return {"outputs": [o for outs in done for o in outs]}
            return {"outputs": await self._run_item(node, item)}

        work.__name__ = f"work_{node.id}"
        return work

    async def _run_item(self, node: NodeSpec, item: WorkItem) -> list[dict[str, Any]]:
        ctx = current_run()
        task = ctx.task if ctx else {}
        items = await self._memory_items(node, task)
        samples: list[int] = list(item["samples"])
        keep = int(item.get("keep") or len(samples))
        coros = [self._one(node, item, s, items, ctx) for s in samples]
        if keep >= len(coros):
            return [o.model_dump() for o in await asyncio.gather(*coros)]
        # first-m: keep the first `keep` samples to finish, cancel the rest
        tasks = [asyncio.ensure_future(c) for c in coros]
        done: list[NodeOutput] = []
        try:
            for fut in asyncio.as_completed(tasks):
                out = await fut
                done.append(out)
                if len([d for d in done if d.status == "ok"]) >= keep:
                    break
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [o.model_dump() for o in done]

    async def _memory_items(self, node: NodeSpec, task: dict[str, Any]) -> list[Any]:
        if not node.memory or self.memory is None or node.memory_k == 0:
            return []
        got = self.memory.retrieve(task.get("prompt", ""), node.memory_k)
        return list(await got) if inspect.isawaitable(got) else list(got)

    async def _one(
        self, node: NodeSpec, item: WorkItem, sample: int, memory: list[Any], ctx: RunContext | None
    ) -> NodeOutput:
        r = int(item["round"])
        target = item.get("target")
        oid = f"{node.id}:{r}:{sample}" + (
            f"@{target}" if node.role == "verifier" and target else ""
        )
        instructions = None
        if node.instructions:
            instructions = node.instructions
        elif node.aspect:
            from thinktank.agents.roles import load_prompt

            instructions = f"{load_prompt(node.role)}\nFocus only on this aspect: {node.aspect}"
        agent = Agent(
            node.role,
            self.model_for(node),
            instructions=instructions,
            tools=[self.tools[t] for t in node.tools],
            max_steps=node.max_steps,
            memory=memory,
            name=node.id,
            temperature=node.temperature,
            max_tokens=item.get("max_tokens") or node.max_tokens,
        )
        seed = _seed(
            ctx.seed if ctx else 0,
            ctx.task.get("id") if ctx else "",
            node.id,
            r,
            sample,
            target or "",
        )
        try:
            traj = await agent.run(str(item["prompt"]), seed=seed)
        except Exception as exc:
            # a budget refusal outside the agent loop (e.g. by memory), or a model
            # endpoint that failed after its retries: a failed sample, not a failed run
            failed = isinstance(exc, BudgetExceeded)
            return NodeOutput(
                id=oid,
                node=node.id,
                role=node.role,
                round=r,
                sample=sample,
                status="budget_exhausted" if failed else "error",
                error=str(exc) if failed else f"{type(exc).__name__}: {exc}",
                refused_by=exc.budget if isinstance(exc, BudgetExceeded) else None,
                finished_at=time.time(),
            )
        output = traj.output
        answer = None
        if node.role in ANSWER_ROLES and isinstance(output, dict):
            answer = output.get("answer")
        elif node.role in ANSWER_ROLES and isinstance(output, str):
            answer = output
        if answer is not None and self._code_kind(ctx):
            # a program does not fit on an "Answer:" line: the answer is the code block
            from thinktank.graphs.execution import code_answer

            answer = code_answer(traj, answer)
        u = traj.usage
        return NodeOutput(
            id=oid,
            node=node.id,
            role=node.role,
            round=r,
            sample=sample,
            answer=answer,
            output=output,
            target=target if node.role in ("verifier", "refiner") else None,
            inputs=list(item.get("inputs") or []),
            status="ok" if traj.status in ("ok", "submitted") else traj.status,
            error=traj.error,
            refused_by=traj.refused_by,
            finished_at=time.time(),
            usage={"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens},
            trajectory=traj.model_dump(mode="json"),
        )

    def _code_kind(self, ctx: RunContext | None) -> bool:
        task = ctx.task if ctx else {}
        return answer_kind(self.spec, task.get("kind"), task.get("metadata")) == "code"

    async def _select(self, state: dict[str, Any]) -> dict[str, Any]:
        outs = [NodeOutput.model_validate(o) for o in state.get("outputs") or []]
        kind = (state.get("task") or {}).get("kind")
        exec_scores = None
        if self.spec.selection.method in ("hybrid", "test_vote"):
            if self.executor is None:
                raise ConfigError(
                    f"selection {self.spec.selection.method!r} needs an executor (compile(..., executor=...))"
                )
            exec_scores = await self.executor.scores(self.spec, outs, state.get("task") or {})
        res = select(
            self.spec,
            outs,
            task_kind=kind,
            task_metadata=(state.get("task") or {}).get("metadata"),
            decisions=state.get("decisions") or [],
            exec_scores=exec_scores,
        )
        status = state.get("status") or "ok"
        error = state.get("error")
        if res.answer is None and status == "ok":
            errs = [o.error for o in outs if o.error]
            status, error = (
                "error",
                error or (errs[-1] if errs else "no candidate produced an answer"),
            )
        elif res.detail.get("degraded") and status in ("ok", "max_rounds", "stopped_by_ceo"):
            # a budget that ran out explains a missing score better than "degraded" would
            status, error = "degraded", str(res.detail["degraded"])
        return {
            "result": res.model_dump(),
            "status": status,
            "error": error,
            "events": [{"kind": "select", "method": res.method, "winner": res.winner}],
        }

    # --- running ------------------------------------------------------------------------

    async def run(
        self,
        task: Any,
        *,
        thread_id: str | None = None,
        budget: Budget | None = None,
        ledger: UsageLedger | None = None,
        run_id: str | None = None,
        seed: int = 0,
    ) -> RunResult:
        """Run on one task. With a checkpointer and a ``thread_id`` seen before, resume it."""
        fields = _task_fields(task)
        b = budget
        if b is None and any(v is not None for v in self.spec.budget.model_dump().values()):
            b = Budget(**self.spec.budget.model_dump(), name=f"task {fields['id']}")
        ledger = ledger or UsageLedger()
        run_id = run_id or uuid.uuid4().hex[:12]
        config: RunnableConfig = {
            "recursion_limit": 10_000,
            "configurable": {"thread_id": thread_id or f"{run_id}:{fields['id']}"},
        }
        ctx = RunContext(task=fields, budget=b, seed=seed, run_id=run_id)
        t0 = time.perf_counter()
        initial: dict[str, Any] | None = {
            "task": fields,
            "round": 1,
            "control": {"active": {}, "direction": "", "max_tokens": None},
        }
        if self.checkpointer is not None and thread_id is not None:
            snap = await self.graph.aget_state(config)
            if snap.values and snap.values.get("result") is not None:
                return self._result(snap.values, ledger, b, 0.0)
            if snap.values:
                initial = None  # resume from the last checkpoint
                if b is not None:  # charge what the finished steps already spent
                    for o in snap.values.get("outputs") or []:
                        b.spent_tokens += sum((o.get("usage") or {}).values())
        with run_context(ctx), scope(budget=b, ledger=ledger, run=run_id, task=fields["id"]):
            try:
                durability: Literal["sync"] | None = (
                    "sync" if self.checkpointer is not None else None
                )
                final = await self.graph.ainvoke(initial, config, durability=durability)
            except BudgetExceeded as exc:
                final = {
                    "task": fields,
                    "status": "budget_exhausted",
                    "error": str(exc),
                    "refused_by": exc.budget,
                    "outputs": [],
                }
        return self._result(final, ledger, b, time.perf_counter() - t0)

    def run_sync(self, task: Any, **kwargs: Any) -> RunResult:
        """Blocking :meth:`run`."""
        from thinktank._sync import run_sync

        return run_sync(self.run(task, **kwargs))

    def _result(
        self, final: dict[str, Any], ledger: UsageLedger, budget: Budget | None, latency: float
    ) -> RunResult:
        res = SelectionResult.model_validate(final["result"]) if final.get("result") else None
        outs = final.get("outputs") or []
        totals = ledger.totals()
        return RunResult(
            task_id=str((final.get("task") or {}).get("id", "")),
            answer=res.answer if res else None,
            status=str(final.get("status") or "ok"),
            error=final.get("error"),
            refused_by=final.get("refused_by"),
            candidates=res.candidates if res else [],
            verdicts=[
                {"verifier": o["id"], "target": o.get("target"), **(o.get("output") or {})}
                for o in outs
                if o.get("role") == "verifier" and isinstance(o.get("output"), dict)
            ],
            decisions=list(final.get("decisions") or []),
            selection=res,
            rounds=int(final.get("round") or 1),
            usage={**ledger.summary(), "tokens": totals.total_tokens},
            cost=totals.cost_usd,
            latency_s=latency,
            budget=budget.state() if budget else {},
            trace={"events": list(final.get("events") or []), "outputs": outs},
            graph=self.spec.name,
        )


def compile(
    spec: GraphSpec,
    *,
    models: Mapping[str, ChatModel | str] | ChatModel | str | None = None,
    tools: Mapping[str, Tool[Any]] | Sequence[Tool[Any]] = (),
    sandbox: Any = None,
    memory: Any = None,
    executor: Any = None,
    checkpointer: Any = None,
) -> CompiledGraph:
    """Bind ``spec`` to its backends and compile it to LangGraph.

    ``models`` maps aliases used by nodes to models (a single model is alias
    ``default``); ``tools`` are the tools nodes may name; ``memory`` is a memory
    bank nodes with ``memory=True`` read from; ``executor`` scores candidates by
    execution (``hybrid``/``test_vote``; built from ``sandbox`` when not given);
    ``checkpointer`` is a LangGraph checkpointer (e.g. the SQLite saver) for resume.
    """
    if executor is None and sandbox is not None:
        from thinktank.graphs.execution import SandboxExecutor

        executor = SandboxExecutor(sandbox)
    return CompiledGraph(
        spec,
        models=models,
        tools=tools,
        memory=memory,
        executor=executor,
        checkpointer=checkpointer,
    )


async def run(spec: GraphSpec | CompiledGraph, task: Any, **kwargs: Any) -> RunResult:
    """Compile (when given a spec) and run on one task. Extra keyword arguments go to
    :func:`compile` (models, tools, …) and :meth:`CompiledGraph.run` (budget, seed, …)."""
    run_keys = {"thread_id", "budget", "ledger", "run_id", "seed"}
    run_kw = {k: v for k, v in kwargs.items() if k in run_keys}
    graph = (
        spec
        if isinstance(spec, CompiledGraph)
        else compile(spec, **{k: v for k, v in kwargs.items() if k not in run_keys})
    )
    return await graph.run(task, **run_kw)
