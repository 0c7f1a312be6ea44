"""The node runtime: how one work item of a node runs — its model, the memory items
it is shown, its tools, and the agent that produces each sample's :class:`NodeOutput`.

:class:`~thinktank.graphs.compiler.CompiledGraph` builds the LangGraph graph and
hands every node's work items to a :class:`NodeRuntime`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

from thinktank import telemetry
from thinktank.agents.agent import Agent
from thinktank.agents.roles import lookup_role
from thinktank.errors import BudgetExceeded, ConfigError
from thinktank.graphs.functions import FunctionRunner
from thinktank.graphs.runtime import RunContext, current_run
from thinktank.graphs.select import answer_kind
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec, NodeSpec
from thinktank.graphs.state import NodeOutput, SampleStatus, WorkItem
from thinktank.llm.base import ChatModel
from thinktank.llm.config import load_model
from thinktank.tools.base import Tool


def _seed(*parts: Any) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def sample_seed(
    ctx: RunContext | None, node: str, round_no: int, sample: int, target: str | None
) -> int:
    """The seed of one sample: the run's seed, the task, the node, round, sample and target."""
    return _seed(
        ctx.seed if ctx else 0,
        ctx.task.get("id") if ctx else "",
        node,
        round_no,
        sample,
        target or "",
    )


def _dump(out: NodeOutput) -> dict[str, Any]:
    """``out.model_dump()``, its trajectory (JSON already) not copied a second time."""
    data = out.model_dump(exclude={"trajectory"})
    data["trajectory"] = out.trajectory
    return data


class NodeRuntime:
    """Runs the nodes of one spec with its models, tools and memory."""

    def __init__(
        self,
        spec: GraphSpec,
        *,
        models: Mapping[str, ChatModel | str] | ChatModel | str | None,
        tools: Mapping[str, Tool[Any]] | Sequence[Tool[Any]] = (),
        memory: Any = None,
        sandbox: Any = None,
    ) -> None:
        self.spec = spec
        self.models = self._load(models)
        spec.validate_models(set(self.models))
        self.tools = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
        for n in spec.nodes:
            missing = [t for t in n.tools if t not in self.tools]
            if missing:
                raise ConfigError(
                    f"node {n.id!r} asks for tools {missing} that were not given; given: {sorted(self.tools)}"
                )
        self.memory = memory
        self._agents: dict[tuple[str, int | None], Agent] = {}
        self.roles = {n.id: lookup_role(n.role) for n in spec.nodes}
        """Each node's role (a function node's function is loaded now: a path that does
        not import fails here, at build time)."""
        self.functions = FunctionRunner(
            tools=self.tools, memory=memory, models=self.models, sandbox=sandbox
        )
        for n in spec.nodes:
            if self.roles[n.id].function is not None:
                self.functions.function(self.roles[n.id])

    @staticmethod
    def _load(
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

    async def run(self, node: NodeSpec, item: WorkItem) -> list[dict[str, Any]]:
        """Run one work item of ``node`` (its samples; first-m keeps the first to finish)."""
        return [_dump(o) for o in await self.outputs(node, item)]

    async def outputs(self, node: NodeSpec, item: WorkItem) -> list[NodeOutput]:
        """:meth:`run`, the samples' records as :class:`NodeOutput` s."""
        ctx = current_run()
        task = ctx.task if ctx else {}
        role = self.roles[node.id]
        if role.function is not None:
            return await self.functions.run(node, role, item, task, ctx)
        memory = await self._memory_items(node, task)
        samples: list[int] = list(item["samples"])
        keep = int(item.get("keep") or len(samples))
        code = self._code_kind(ctx) if node.role in ANSWER_ROLES else False
        if len(samples) == 1 and keep >= 1:  # the common case: no task of its own
            return [await self._one(node, item, samples[0], memory, ctx, code)]
        return await self._several(node, item, samples, keep, memory, ctx, code)

    async def _several(
        self,
        node: NodeSpec,
        item: WorkItem,
        samples: list[int],
        keep: int,
        memory: list[Any],
        ctx: RunContext | None,
        code: bool,
    ) -> list[NodeOutput]:
        # apart from outputs(): the variables comprehensions use become cells (GC-tracked
        # objects) on every call of the function that holds them
        coros = [self._one(node, item, s, memory, ctx, code) for s in samples]
        if keep >= len(coros):
            return list(await asyncio.gather(*coros))
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
        return done

    async def _memory_items(self, node: NodeSpec, task: dict[str, Any]) -> list[Any]:
        if not node.memory or self.memory is None or node.memory_k == 0:
            return []
        # never a lesson learned from this very task (a second graph, a repeat, a resume)
        task_id = task.get("id")
        keep = {"exclude_tasks": [str(task_id)]} if task_id else None
        got = self.memory.retrieve(task.get("prompt", ""), node.memory_k, keep)
        return list(await got) if inspect.isawaitable(got) else list(got)

    def _agent(self, node: NodeSpec, max_tokens: int | None, memory: list[Any]) -> Agent:
        """The agent playing ``node``; one per node and token limit when it is shown no memory
        (an agent keeps nothing of a run, so its samples share it)."""
        key = (node.id, max_tokens)
        if not memory and key in self._agents:
            return self._agents[key]
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
            max_tokens=max_tokens,
        )
        if not memory:
            self._agents[key] = agent
        return agent

    async def _one(
        self,
        node: NodeSpec,
        item: WorkItem,
        sample: int,
        memory: list[Any],
        ctx: RunContext | None,
        code: bool,
    ) -> NodeOutput:
        r = int(item["round"])
        target = item.get("target")
        oid = f"{node.id}:{r}:{sample}" + (f"@{target}" if node.does == "score" and target else "")
        agent = self._agent(node, item.get("max_tokens") or node.max_tokens, memory)
        seed = sample_seed(ctx, node.id, r, sample, target)
        try:
            traj = await telemetry.agent(
                agent.run(str(item["prompt"]), seed=seed), agent, oid, r, sample
            )
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
                status=SampleStatus.BUDGET_EXHAUSTED if failed else SampleStatus.ERROR,
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
        if answer is not None and code:
            # a program does not fit on an "Answer:" line: the answer is the code block
            from thinktank.graphs.execution import code_answer

            answer = code_answer(traj, answer)
        steps = traj.steps
        return NodeOutput(
            id=oid,
            node=node.id,
            role=node.role,
            round=r,
            sample=sample,
            answer=answer,
            output=output,
            target=target if node.does in ("score", "refine") else None,
            inputs=list(item.get("inputs") or []),
            status=SampleStatus.OK
            if traj.status in ("ok", "submitted")
            else SampleStatus(traj.status),
            error=traj.error,
            refused_by=traj.refused_by,
            finished_at=time.time(),
            usage={
                "prompt_tokens": sum(st.usage.prompt_tokens for st in steps),
                "completion_tokens": sum(st.usage.completion_tokens for st in steps),
            },
            trajectory=traj.model_dump(mode="json"),
        )

    def _code_kind(self, ctx: RunContext | None) -> bool:
        task = ctx.task if ctx else {}
        return answer_kind(self.spec, task.get("kind"), task.get("metadata")) == "code"
