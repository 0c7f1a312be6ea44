"""The evaluator contract: :class:`Evaluator`, :class:`Verdict`, :class:`EvalContext`.

An evaluator decides whether a run's final answer solves a
:class:`~thinktank.evals.tasks.task.Task`. Implementations write one method,
:meth:`Evaluator.evaluate`; resources some evaluators need (an LLM judge, a
sandbox to run tests in) arrive through an :class:`EvalContext`, so configs stay
plain data. Every evaluator returns a :class:`Verdict` and never raises for a
wrong or unparseable answer — only for misuse (a missing resource, a task without
the data its evaluator needs), as :class:`~thinktank.errors.ConfigError` /
:class:`~thinktank.errors.UsageError` with the fix in the message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from thinktank._sync import run_sync
from thinktank.errors import UsageError

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task
    from thinktank.llm.base import ChatModel
    from thinktank.sandboxes.base import Sandbox


class Verdict(BaseModel):
    """The judgement of one answer."""

    correct: bool
    """Whether the answer solves the task."""
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    """Credit in [0, 1]: 1/0 for exact evaluators, the passed share for tests, F1 where used."""
    answer: str | None = None
    """The answer as the evaluator read it (canonical form), ``None`` when none was found."""
    expected: str | None = None
    """The expected answer in the same form, for reports."""
    reason: str = ""
    """Why the answer was judged so, in one line (e.g. ``no number found``)."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Evaluator-specific extras (test output, judge reasoning), JSON-serialisable."""

    @classmethod
    def of(cls, correct: bool, **fields: Any) -> Verdict:
        """A verdict whose score follows ``correct`` unless given."""
        fields.setdefault("score", 1.0 if correct else 0.0)
        return cls(correct=correct, **fields)


@dataclass
class EvalContext:
    """Resources an evaluator may need; each is optional until an evaluator asks for it."""

    judge: ChatModel | None = None
    """The model used by LLM answer-matching (``llm_match``)."""
    sandbox: Sandbox | None = None
    """Where code tests run (``code_tests``); anything with ``exec``/``write_file``."""

    def require_judge(self, evaluator: str) -> ChatModel:
        if self.judge is None:
            raise UsageError(
                f"the {evaluator!r} evaluator needs a judge model: pass "
                "EvalContext(judge=<ChatModel>) (or use the 'string' evaluator instead)"
            )
        return self.judge

    def require_sandbox(self, evaluator: str) -> Sandbox:
        if self.sandbox is None:
            raise UsageError(
                f"the {evaluator!r} evaluator runs tests and needs a sandbox: pass "
                "EvalContext(sandbox=<Sandbox>) (see thinktank.sandboxes)"
            )
        return self.sandbox


class Evaluator(ABC):
    """Judges answers for one kind of task."""

    name: str = "evaluator"

    @abstractmethod
    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        """Judge ``answer`` (a run's final answer or full reply) against ``task``."""

    def evaluate_sync(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        """Blocking :meth:`evaluate`, for scripts and notebooks."""
        return run_sync(self.evaluate(task, answer, context))


def no_answer(expected: str | None, reason: str = "no answer") -> Verdict:
    """The verdict for a missing or unreadable answer."""
    return Verdict(correct=False, score=0.0, answer=None, expected=expected, reason=reason)
