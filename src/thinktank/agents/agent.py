"""The agent: a role, a model, tools and a loop.

``Agent.run(task)`` asks the model, executes the tool calls it makes (native
function calls, or the text protocol for models without them — the llm layer
handles both), feeds results back, and stops when the model answers without
calling a tool, a tool submits, the step limit is reached, or a budget refuses.
Bad tool calls, unknown tools and tool exceptions become error observations; an
empty reply or an output that does not parse becomes feedback. Nothing the model
does can crash the run. Every step lands in a serialisable :class:`Trajectory`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from thinktank.agents.context import elide_old_observations
from thinktank.agents.outputs import RoleOutput
from thinktank.agents.roles import lookup_role
from thinktank.agents.trajectory import Step, ToolStep, Trajectory
from thinktank.errors import BudgetExceeded, ConfigError, OutputParseError, Submitted
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.llm.ledger import scope
from thinktank.llm.types import Completion, as_dicts
from thinktank.tools.base import Tool
from thinktank.tools.toolset import Toolset

log = logging.getLogger(__name__)


class MemoryLike(Protocol):
    """What the agent needs of a memory item to show it."""

    id: str
    title: str
    description: str
    content: str


def render_memory(items: Sequence[MemoryLike]) -> str:
    """Memory items as a block of the system prompt."""
    if not items:
        return ""
    lines = ["Lessons from earlier tasks (use them when they apply; ignore them when they do not):"]
    for i, it in enumerate(items, 1):
        lines.append(f"{i}. {it.title} — {it.description}\n   {it.content}")
    return "\n".join(lines)


class Agent:
    """A role played by a model with tools.

    Args:
        role: role name (``solver``, ``verifier``, ``critic``, ``refiner``, ``fuser``,
            ``judge``, ``debater``, ``ceo``, or one registered with
            :func:`~thinktank.agents.roles.register_role`); picks the default prompt
            and output type.
        model: the :class:`ChatModel` that plays it.
        instructions: system prompt; default the role's packaged prompt.
        tools: tools the model may call.
        max_steps: model turns before the run stops with status ``max_steps``.
        output_type: typed output to parse the final reply into; default the role's.
            ``None`` with ``typed=False`` keeps the raw text.
        memory: memory items rendered into the instructions.
        budget: a per-agent budget scope (inside the caller's scopes).
        max_tool_output_chars: tool results longer than this are truncated (when\n            ``tools`` is not already a :class:`Toolset`).
        context_tokens: estimated prompt size past which old observations are elided.
    """

    def __init__(
        self,
        role: str,
        model: ChatModel,
        *,
        instructions: str | None = None,
        tools: Toolset | Sequence[Tool[Any]] = (),
        max_steps: int = 10,
        output_type: type[RoleOutput] | None = None,
        typed: bool = True,
        memory: Sequence[MemoryLike] = (),
        budget: Budget | None = None,
        name: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_tool_output_chars: int = 8_000,
        context_tokens: int = 24_000,
        prompts_dir: str | Path | None = None,
    ) -> None:
        spec = lookup_role(role)
        if spec.function is not None:
            raise ConfigError(
                f"role {role!r} is computed by the function {spec.function!r}, not played by a "
                "model: use it as a graph node (Function(...) or role: in a graph spec)"
            )
        self.role = spec.name
        self.name = name or spec.name
        self.model = model
        self.instructions = instructions if instructions is not None else spec.prompt(prompts_dir)
        self.toolset = (
            tools
            if isinstance(tools, Toolset)
            else Toolset(tools, max_output_chars=max_tool_output_chars)
        )
        self.max_steps = max_steps
        self.output_type = (output_type or spec.output) if typed else None
        self.memory = list(memory)
        self.budget = budget
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens

    def system_prompt(self) -> str:
        mem = render_memory(self.memory)
        return f"{self.instructions}\n\n{mem}" if mem else self.instructions

    async def run(
        self, task: str | Sequence[Any], *, seed: int | None = None, max_tokens: int | None = None
    ) -> Trajectory:
        """Run the loop on ``task`` (a user message, or a list of messages to continue)."""
        t0 = time.perf_counter()
        messages = [{"role": "system", "content": self.system_prompt()}]
        messages += [{"role": "user", "content": task}] if isinstance(task, str) else as_dicts(task)
        traj = Trajectory(
            agent=self.name,
            role=self.role,
            model=self.model.model_id,
            memory_ids=[m.id for m in self.memory],
        )
        schemas = self.toolset.schemas() or None
        with scope(budget=self.budget, node=self.name, role=self.role):
            try:
                await self._loop(messages, traj, schemas, seed, max_tokens or self.max_tokens)
            except BudgetExceeded as exc:
                traj.status, traj.error = "budget_exhausted", str(exc)
                traj.refused_by = exc.budget
            except Submitted as sub:
                traj.status, traj.output = "submitted", sub.value
        traj.messages = messages
        traj.duration_s = time.perf_counter() - t0
        return traj

    async def _loop(
        self,
        messages: list[dict[str, Any]],
        traj: Trajectory,
        schemas: list[dict[str, Any]] | None,
        seed: int | None,
        max_tokens: int | None,
    ) -> None:
        for index in range(self.max_steps):
            elide_old_observations(messages, max_tokens=self.context_tokens)
            t_step = time.perf_counter()
            [c] = await self.model.generate(
                messages,
                tools=schemas,
                temperature=self.temperature,
                max_tokens=max_tokens,
                seed=seed,
            )
            step = Step(index=index, text=c.text, finish_reason=c.finish_reason, usage=c.usage)
            traj.steps.append(step)
            messages.append(c.to_message())
            if c.tool_calls:
                try:
                    await self._call_tools(c, messages, step)
                finally:
                    step.duration_s = time.perf_counter() - t_step
                continue
            step.duration_s = time.perf_counter() - t_step
            feedback = self._finish(c, traj)
            if feedback is None:
                return
            step.feedback = feedback
            messages.append({"role": "user", "content": feedback})
        traj.status = "max_steps"
        self._best_effort_output(traj)

    async def _call_tools(self, c: Completion, messages: list[dict[str, Any]], step: Step) -> None:
        # Sequential on purpose: edits and commands depend on the ones before them.
        for call in c.tool_calls:
            try:
                result = await self.toolset.execute_call(call)
            except Submitted as sub:
                step.tool_calls.append(
                    ToolStep(
                        call_id=call.id,
                        name=call.name,
                        arguments=call.arguments,
                        content="submitted",
                        metadata=sub.metadata,
                    )
                )
                raise
            meta = {k: v for k, v in result.metadata.items() if k not in ("duration_s", "call_id")}
            step.tool_calls.append(
                ToolStep(
                    call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    content=result.content,
                    is_error=result.is_error,
                    metadata=meta,
                    duration_s=float(result.metadata.get("duration_s", 0.0)),
                )
            )
            messages.append(result.to_message(call.id))

    def _finish(self, c: Completion, traj: Trajectory) -> str | None:
        """Set the output from a final reply, or return feedback to send instead."""
        text = c.text.strip()
        if not text:
            return "Your reply was empty. Continue the task and give your final answer."
        if self.output_type is None:
            traj.output = text
            return None
        try:
            traj.output = self.output_type.from_text(text).model_dump()
        except OutputParseError as exc:
            return f"Your reply could not be read: {exc}. Reply again in the required format."
        return None

    def _best_effort_output(self, traj: Trajectory) -> None:
        """At the step limit, keep whatever the last reply yields."""
        for step in reversed(traj.steps):
            if step.text.strip():
                if self.output_type is None:
                    traj.output = step.text.strip()
                    return
                try:
                    traj.output = self.output_type.from_text(step.text).model_dump()
                    return
                except OutputParseError:
                    continue
