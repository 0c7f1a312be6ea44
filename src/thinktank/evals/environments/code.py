"""The ``code`` environment: hidden tests run in a fresh sandbox per answer.

Agents get a ``python`` tool (sandbox started on first use) to try their code. The
answer is judged by the task's evaluator — ``code_tests`` by default: the program
plus the hidden tests run in a sandbox leased from the provider for that one
evaluation, so nothing an agent did in its own sandbox can touch the judging.
"""

from __future__ import annotations

from typing import Any

from thinktank.evals.environments._sandbox import PythonToolEnvironment
from thinktank.evals.environments.base import TaskContext
from thinktank.evals.tasks.evaluators import EvalContext, Verdict, evaluate
from thinktank.evals.tasks.task import Task
from thinktank.graphs.answers.code import extract_code


class CodeEnvironment(PythonToolEnvironment):
    """Per task: a lazily started ``python`` tool; hidden tests in a fresh sandbox
    leased for each evaluation (see :class:`PythonToolEnvironment` for the options;
    a ``PoolConfig`` provider keeps judging sandboxes warm)."""

    kinds = frozenset({"code"})

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        if task.evaluator_config().type != "code_tests" or extract_code(answer or "") is None:
            # judged without running anything (no program: the evaluator says so)
            return await evaluate(task, answer, EvalContext(judge=self.judge))
        async with (await self._provider()).sandbox() as sb:
            return await evaluate(task, answer, EvalContext(judge=self.judge, sandbox=sb))
