"""Compile a :class:`GraphSpec` into a LangGraph ``StateGraph`` and run it.

The compiled graph has one LangGraph node per spec node (a worker running its
samples) and a ``schedule`` node that plans each step with
:class:`~thinktank.graphs.schedule.Scheduler`, fans work out with ``Send`` and, once
the run is over, selects the final answer (what each does: :mod:`thinktank.graphs.steps`).
State lists are append-only reducers, so samples finishing in parallel never overwrite
each other. Backends (models, tools, memory, execution scorer, checkpointer) are
injected; LangGraph is used through its public API only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from thinktank import telemetry
from thinktank.agents.roles import role_does
from thinktank.errors import BudgetExceeded
from thinktank.graphs._runnable import check_runnable
from thinktank.graphs.nodes import NodeRuntime
from thinktank.graphs.result import CandidateVerification, RoundDecision, RunResult, RunUsage
from thinktank.graphs.runtime import RunContext, run_context
from thinktank.graphs.runtime import task_fields as _task_fields
from thinktank.graphs.schedule import Scheduler
from thinktank.graphs.select import SelectionResult
from thinktank.graphs.spec import GraphSpec, NodeSpec
from thinktank.graphs.state import (
    GraphState,
    NodeOutput,
    RunStatus,
    Trace,
    TraceEvent,
)
from thinktank.graphs.steps import Steps
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget, BudgetState
from thinktank.llm.ledger import UsageLedger, UsageTotals, scope
from thinktank.tools.base import Tool


class CompiledGraph(Steps):
    """A spec bound to its backends; :meth:`run` executes it on one task."""

    def __init__(
        self,
        spec: GraphSpec,
        *,
        models: Mapping[str, ChatModel | str] | ChatModel | str | None,
        tools: Mapping[str, Tool[Any]] | Sequence[Tool[Any]] = (),
        memory: Any = None,
        scorer: Any = None,
        checkpointer: Any = None,
        sandbox: Any = None,
    ) -> None:
        self.spec = spec
        self.nodes = NodeRuntime(spec, models=models, tools=tools, memory=memory, sandbox=sandbox)
        self.models, self.tools, self.memory = self.nodes.models, self.nodes.tools, memory
        check_runnable(spec)
        self.scorer = scorer
        self.checkpointer = checkpointer
        self.scheduler = Scheduler(spec)
        self.graph = self._build().compile(checkpointer=checkpointer)

    def model_for(self, node: NodeSpec) -> ChatModel:
        return self.nodes.model_for(node)

    # --- the LangGraph graph -------------------------------------------------------------

    def _build(self) -> Any:
        g: Any = StateGraph(GraphState)
        g.add_node("schedule", self._schedule)
        for n in self.spec.nodes:
            g.add_node(n.id, self._worker(n))
            g.add_conditional_edges(n.id, self._after, ["schedule", END])
        ids = [n.id for n in self.spec.nodes]
        g.add_conditional_edges(START, self._start, [*ids, "schedule"])
        g.add_conditional_edges("schedule", self._route, [*ids, END])
        return g

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
                final = await telemetry.workflow(
                    self.graph.ainvoke(initial, config, durability=durability),
                    self.spec.name,
                    run_id,
                    fields,
                    ledger,
                )
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
        outs = [
            o if isinstance(o, NodeOutput) else NodeOutput.model_validate(o)
            for o in final.get("outputs") or []
        ]
        totals = ledger.totals()
        return RunResult(
            task_id=str((final.get("task") or {}).get("id", "")),
            answer=res.answer if res else None,
            status=RunStatus(final.get("status") or "ok"),
            error=final.get("error"),
            refused_by=final.get("refused_by"),
            candidates=res.candidates if res else [],
            verifications=[
                CandidateVerification(verifier=o.id, target=o.target, **o.output)
                for o in outs
                if role_does(o.role) == "score" and isinstance(o.output, dict)
            ],
            decisions=[RoundDecision.model_validate(d) for d in final.get("decisions") or []],
            selection=res,
            rounds=int(final.get("round") or 1),
            usage=RunUsage(
                totals=totals,
                by_model={k[0]: v for k, v in ledger.by("model").items()},
                by_node=self._by_node(ledger, outs),
                tokens=totals.total_tokens,
            ),
            cost=totals.cost_usd,
            latency_s=latency,
            budget=BudgetState.model_validate(budget.state()) if budget else None,
            trace=Trace(
                events=[TraceEvent.model_validate(e) for e in final.get("events") or []],
                outputs=outs,
            ),
            graph=self.spec.name,
        )

    def _by_node(self, ledger: UsageLedger, outs: list[NodeOutput]) -> dict[str, UsageTotals]:
        """Usage per node; a function node that ran and called no model is listed at zero."""
        by_node = {k[0]: v for k, v in ledger.by("node").items() if k[0]}
        ran = {o.node for o in outs}
        for nid, role in self.nodes.roles.items():
            if role.function is not None and nid in ran:
                by_node.setdefault(nid, UsageTotals())
        return by_node


def compile(
    spec: GraphSpec,
    *,
    models: Mapping[str, ChatModel | str] | ChatModel | str | None = None,
    tools: Mapping[str, Tool[Any]] | Sequence[Tool[Any]] = (),
    sandbox: Any = None,
    memory: Any = None,
    scorer: Any = None,
    checkpointer: Any = None,
) -> CompiledGraph:
    """Bind ``spec`` to its backends and compile it to LangGraph.

    ``models`` maps aliases used by nodes to models (a single model is alias
    ``default``); ``tools`` are the tools nodes may name; ``memory`` is a memory
    bank nodes with ``memory=True`` read from; ``sandbox`` (a started sandbox, a
    provider or a sandbox config) is what function nodes open with ``ctx.sandbox()``;
    ``scorer`` scores candidates by execution (``hybrid``/``test_vote``; built from
    ``sandbox`` when not given);
    ``checkpointer`` is a LangGraph checkpointer (e.g. the SQLite saver) for resume.
    """
    if scorer is None and sandbox is not None:
        from thinktank.graphs.execution import ExecutionScorer

        scorer = ExecutionScorer(sandbox)
    return CompiledGraph(
        spec,
        models=models,
        tools=tools,
        memory=memory,
        scorer=scorer,
        checkpointer=checkpointer,
        sandbox=sandbox,
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
