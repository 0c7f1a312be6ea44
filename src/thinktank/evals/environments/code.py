"""The ``code`` environment: hidden tests run in a fresh sandbox per answer.

Agents get a ``python`` tool (sandbox started on first use) to try their code. The
answer is judged by the task's evaluator — ``code_tests`` by default: the program
plus the hidden tests run in a sandbox leased from the provider for that one
evaluation, so nothing an agent did in its own sandbox can touch the judging.
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
from thinktank.graphs.answers.code import extract_code
from thinktank.sandboxes.provider import SandboxProvider


class CodeEnvironment(TaskEnvironment):
    """Per task: a lazily started ``python`` tool; hidden tests in a fresh sandbox.

    Args:
        provider: where the sandboxes come from (a provider, a sandbox config such as
            ``PoolConfig(size=2)`` to keep judging sandboxes warm, or ``None`` for Docker).
        judge: the model used by ``llm_match`` evaluators, if a task asks for one.
        python: give the agents the ``python`` tool.
        timeout_s: limit per ``python`` call.
    """

    kinds = frozenset({"code"})

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
        if self.provider is None:
            self.provider, self._owned = resolve_provider(self._option)

    async def close(self) -> None:
        if self._owned and self.provider is not None:
            await self.provider.aclose()
        self.provider = None

    async def _provider(self) -> SandboxProvider:
        if self.provider is None:
            await self.start()
        assert self.provider is not None
        return self.provider

    async def open(self, task: Task) -> TaskContext:
        if not self.python:
            return TaskContext()
        lazy = LazySandbox(await self._provider())
        return TaskContext(
            tools=[LazyPythonTool(lazy, timeout_s=self.timeout_s)],
            data={"sandbox": lazy},
            closers=[lazy.close],
        )

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        if task.evaluator_config().type != "code_tests" or extract_code(answer or "") is None:
            # judged without running anything (no program: the evaluator says so)
            return await evaluate(task, answer, EvalContext(judge=self.judge))
        async with (await self._provider()).sandbox() as sb:
            return await evaluate(task, answer, EvalContext(judge=self.judge, sandbox=sb))
