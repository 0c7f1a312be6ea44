"""The ``math`` environment: a ``python`` tool in a sandbox, exact numeric judging.

Agents may compute instead of doing arithmetic by hand: each task gets a ``python``
tool whose sandbox starts on the first call (tasks that never call it cost no
container) and is closed with the task. Answers are judged by the task's
evaluator — ``numeric`` (exact) by default, ``game24`` for Game-of-24 hands.
"""

from __future__ import annotations

from typing import Any

from thinktank.evals.environment import TaskContext, TaskEnvironment
from thinktank.evals.environments._sandbox import (
    LazyPythonTool,
    LazySandbox,
    ProviderOption,
    resolve_provider,
)
from thinktank.evals.evaluators import EvalContext, Verdict, evaluate
from thinktank.evals.task import Task
from thinktank.sandboxes.provider import SandboxProvider


class MathEnvironment(TaskEnvironment):
    """Per task: a lazily started ``python`` tool. Judged by the task's evaluator.

    Args:
        provider: where the sandboxes come from (a provider, a sandbox config, or
            ``None`` for Docker with its secure defaults).
        judge: the model used by ``llm_match`` evaluators, if a task asks for one.
        python: give the agents the ``python`` tool (``False``: no tools).
        timeout_s: limit per ``python`` call.
    """

    kinds = frozenset({"math"})

    def __init__(
        self,
        *,
        provider: ProviderOption = None,
        judge: Any = None,
        python: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._option = provider
        self.provider: SandboxProvider | None = None
        self._owned = False
        self.judge = judge
        self.python = python
        self.timeout_s = timeout_s

    async def start(self) -> None:
        if self.python and self.provider is None:
            self.provider, self._owned = resolve_provider(self._option)

    async def close(self) -> None:
        if self._owned and self.provider is not None:
            await self.provider.aclose()
        self.provider = None

    async def open(self, task: Task) -> TaskContext:
        if not self.python:
            return TaskContext()
        if self.provider is None:
            await self.start()
        assert self.provider is not None
        lazy = LazySandbox(self.provider)
        return TaskContext(
            tools=[LazyPythonTool(lazy, timeout_s=self.timeout_s)],
            data={"sandbox": lazy},
            closers=[lazy.close],
        )

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        return await evaluate(task, answer, EvalContext(judge=self.judge))
