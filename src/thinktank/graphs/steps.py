"""What the LangGraph nodes and routers of a compiled graph do (mixed into
:class:`~thinktank.graphs.compiler.CompiledGraph`).

* ``schedule`` plans each step with :class:`~thinktank.graphs.schedule.Scheduler`
  and, once the run is over, selects the final answer in the same step;
* the routers send each step's work items to the worker nodes: with a checkpointer
  one task per item (each finished sample is checkpointed), without one a task per
  node gathering its items;
* a worker runs its node's items with :class:`~thinktank.graphs.nodes.NodeRuntime`.

Without a checkpointer, a step whose work is one node's (a best-of-N's samples, an
adaptive node's waves, a judge) is one task that carries the run on: it plans on the
state it was sent with plus its samples, as the schedule step would, runs its adaptive
node's next waves and, when the run is over, does the final step itself. A run whose
steps are all of that kind takes one LangGraph step; decisions are the scheduler's
either way. Routers are async: LangGraph runs a plain function through a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from langgraph.graph import END
from langgraph.types import Send

from thinktank.errors import ConfigError
from thinktank.graphs.functions import choose_by_function, describe
from thinktank.graphs.nodes import NodeRuntime
from thinktank.graphs.runtime import current_run
from thinktank.graphs.schedule import Plan, Scheduler
from thinktank.graphs.select import SelectionResult, select
from thinktank.graphs.spec import SELECT_METHODS, GraphSpec, NodeSpec
from thinktank.graphs.state import NodeOutput, WorkItem, apply_update


def _exhausted() -> bool:  # the run's own budget is spent: the scheduler ends the run
    ctx = current_run()
    return ctx is not None and ctx.budget is not None and ctx.budget.exhausted


class Steps:
    """The node functions and routers; the graph built of them is in the compiler."""

    spec: GraphSpec
    nodes: NodeRuntime
    scheduler: Scheduler
    scorer: Any
    checkpointer: Any

    async def _schedule(self, state: dict[str, Any]) -> dict[str, Any]:
        outs = [NodeOutput.model_validate(o) for o in state.get("outputs") or []]
        return await self._step(state, outs)

    async def _step(
        self, state: dict[str, Any], outs: list[NodeOutput], first: Plan | None = None
    ) -> dict[str, Any]:
        """Plan the next step (``first``: its first plan, made already); when the run is
        over, select its answer in this same step."""
        exhausted = _exhausted()
        update: dict[str, Any] = {"progress": {}, "events": []}
        decisions: list[dict[str, Any]] = []
        view = dict(state)
        while True:
            plan = first or self.scheduler.plan(view, budget_exhausted=exhausted, outputs=outs)
            first = None
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
        if "status" in update:  # the run is over: no step of its own for selection
            final = {**state, **update, "decisions": [*(state.get("decisions") or []), *decisions]}
            chosen = await self._select(final, outs)
            update |= {**chosen, "events": update["events"] + chosen["events"]}
        return update

    # routers are async: LangGraph runs a plain function through a thread
    async def _start(self, state: dict[str, Any]) -> list[Send] | str:
        """The first step, planned as the run starts: when it is one node's work, that
        task starts at once carrying this step's update (no schedule step of its own)."""
        if self.checkpointer is None:
            update = await self._schedule(state)
            if "status" not in update:
                sends = self._sends(update["pending"], apply_update(state, update), update)
                if len(sends) == 1 and "state" in sends[0].arg:
                    return sends
        return "schedule"

    async def _route(self, state: dict[str, Any]) -> list[Send] | str:
        pending: list[WorkItem] = state.get("pending") or []
        if state.get("status") or not pending:
            return END
        return self._sends(pending, state)

    def _sends(
        self, pending: list[WorkItem], state: dict[str, Any], carry: dict[str, Any] | None = None
    ) -> list[Send]:
        if self.checkpointer is not None:
            # one LangGraph task per work item: each finished sample is checkpointed
            return [Send(item["node"], item) for item in pending]
        # without a checkpointer nothing is saved per task, so a node's items run in one
        # task (gathered inside it): LangGraph's per-task cost is paid once per node
        batches: dict[str, list[WorkItem]] = {}
        for item in pending:
            batches.setdefault(item["node"], []).append(item)
        if len(batches) == 1:  # the step's only task carries the state on (see _alone)
            [(nid, items)] = batches.items()
            return [Send(nid, {"node": nid, "batch": items, "state": state, "carry": carry})]
        return [
            Send(nid, items[0] if len(items) == 1 else {"node": nid, "batch": items})
            for nid, items in batches.items()
        ]

    async def _after(self, state: dict[str, Any]) -> str:
        return END if state.get("result") is not None else "schedule"

    def _worker(self, node: NodeSpec) -> Any:
        # not annotated WorkItem: LangGraph would add a state channel per key of a TypedDict
        async def work(payload: dict[str, Any]) -> dict[str, Any]:
            item = cast(WorkItem, payload)
            if "batch" not in item:
                return {"outputs": await self._records(node, item)}
            if payload.get("state") is not None:
                return await self._alone(node, item["batch"], payload["state"], payload["carry"])
            done = await asyncio.gather(*(self._records(node, i) for i in item["batch"]))
            return {"outputs": [o for outs in done for o in outs]}

        work.__name__ = f"work_{node.id}"
        return work

    async def _records(self, node: NodeSpec, item: WorkItem) -> list[Any]:
        """A work item's samples: records in the state, JSON when a checkpointer stores it."""
        if self.checkpointer is not None:
            return await self.nodes.run(node, item)
        return await self.nodes.outputs(node, item)

    async def _alone(
        self, node: NodeSpec, items: list[WorkItem], state: dict[str, Any], carry: Any
    ) -> dict[str, Any]:
        """The only task of its step runs its items, then plans on ``state`` (the state it
        was sent with) and its samples as the schedule step would: its adaptive node's next
        wave runs here, and when the run is over, so does the final step. Anything else is
        left to the schedule step. ``carry``: the update of a step that had no step itself."""
        outs = [NodeOutput.model_validate(o) for o in state.get("outputs") or []]
        key = f"{int(state.get('round') or 1)}:{node.id}"
        new: list[NodeOutput] = []
        events: list[dict[str, Any]] = []
        while True:
            done = await asyncio.gather(*(self.nodes.outputs(node, i) for i in items))
            wave = [o for got in done for o in got]
            new += wave
            outs += wave
            plan = self.scheduler.plan(state, budget_exhausted=_exhausted(), outputs=outs)
            if plan.finish is not None or not plan.items or key in plan.progress:
                break
            events += plan.events  # this adaptive node's next wave
            items = plan.items
        update = {"outputs": new, "events": events}
        if plan.finish is not None:
            update = apply_update(update, await self._step(state, outs, plan))
        return apply_update(carry or {}, update)

    async def _select(self, state: dict[str, Any], outs: list[NodeOutput]) -> dict[str, Any]:
        kind = (state.get("task") or {}).get("kind")
        exec_scores = None
        if self.spec.selection.method in ("hybrid", "test_vote"):
            if self.scorer is None:
                raise ConfigError(
                    f"selection {self.spec.selection.method!r} needs an execution scorer (compile(..., sandbox=...) or scorer=...)"
                )
            exec_scores = await self.scorer.scores(self.spec, outs, state.get("task") or {})
        res = select(
            self.spec,
            outs,
            task_kind=kind,
            task_metadata=(state.get("task") or {}).get("metadata"),
            decisions=state.get("decisions") or [],
            exec_scores=exec_scores,
        )
        if res.method not in SELECT_METHODS:
            res = await self._select_by_function(res)
        status = state.get("status") or "ok"
        error = state.get("error")
        if res.answer is None and status == "ok":
            status, error = "error", error or _no_answer(res, outs)
        elif res.detail.get("degraded") and status in ("ok", "max_rounds", "stopped_by_ceo"):
            # a budget that ran out explains a missing score better than "degraded" would
            status, error = "degraded", str(res.detail["degraded"])
        return {
            "result": res.model_dump(),
            "status": status,
            "error": error,
            "events": [{"kind": "select", "method": res.method, "winner": res.winner}],
        }

    async def _select_by_function(self, res: SelectionResult) -> SelectionResult:
        """Your selection function picks among the candidates (the vote stands when it
        picks none; when it fails, the vote stands and the run ends ``degraded``)."""
        try:
            chosen = await choose_by_function(res.method, res.candidates, res.detail["scores"])
        except Exception as exc:
            why = f"selection function {res.method!r} failed ({describe(exc)}); the vote stands"
            return res.model_copy(update={"detail": {**res.detail, "degraded": why}})
        if chosen is None:
            return res
        pick = next(c for c in res.candidates if c.id == chosen)
        return res.model_copy(update={"answer": pick.answer, "winner": pick.id})


def _no_answer(res: SelectionResult, outs: list[NodeOutput]) -> str:
    """Why selection ended without an answer: the selector's own failure first."""
    errs = [o.error for o in outs if o.error]
    if res.detail.get("degraded"):
        return f"{res.detail['degraded']}; the vote it fell back to found no answer"
    if errs:
        return str(errs[-1])
    if res.candidates:
        return f"none of the {len(res.candidates)} candidates had an answer selection could read"
    return "no candidate produced an answer"
