"""The ``math`` environment: a ``python`` tool in a sandbox, exact numeric judging.

Agents may compute instead of doing arithmetic by hand: each task gets a ``python``
tool whose sandbox starts on the first call (tasks that never call it cost no
container) and is closed with the task. Answers are judged by the task's
evaluator — ``numeric`` (exact) by default, ``game24`` for Game-of-24 hands.
"""

from __future__ import annotations

from typing import Any

from thinktank.evals.environments._sandbox import PythonToolEnvironment
from thinktank.evals.environments.base import TaskContext
from thinktank.evals.tasks.evaluators import EvalContext, Verdict, evaluate
from thinktank.evals.tasks.task import Task


class MathEnvironment(PythonToolEnvironment):
    """Per task: a lazily started ``python`` tool. Judged by the task's evaluator
    (see :class:`PythonToolEnvironment` for the options)."""

    kinds = frozenset({"math"})

    async def start(self) -> None:
        if self.python:
            await super().start()

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        return await evaluate(task, answer, EvalContext(judge=self.judge))
