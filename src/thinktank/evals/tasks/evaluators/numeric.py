"""Exact numeric answers (math word problems, AIME, MATH).

The reply's final number (see :mod:`thinktank.graphs.answers.numbers`) is compared
with ``task.expected`` exactly, as fractions; tolerances are opt-in for tasks
whose answers are rounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.graphs.answers.numbers import extract_number, numbers_equal, to_number

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


class NumericConfig(StrictModel):
    """Compare the final number of the answer with ``task.expected``."""

    type: Literal["numeric"] = "numeric"
    """Discriminator."""
    rel_tol: float = Field(default=0.0, ge=0.0)
    """Relative tolerance (0 = exact)."""
    abs_tol: float = Field(default=0.0, ge=0.0)
    """Absolute tolerance (0 = exact)."""
    percent_as_share: bool = True
    """Accept ``25%`` for an expected ``0.25`` (``25%`` always matches ``25``)."""
    fallback_last: bool = True
    """With no final-answer marker in the reply, use its last number."""

    def build(self) -> NumericEvaluator:
        return NumericEvaluator(self)


class NumericEvaluator(Evaluator):
    """Exact (or tolerant) numeric comparison."""

    name = "numeric"

    def __init__(self, config: NumericConfig | None = None) -> None:
        self.config = config or NumericConfig()

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        expected = to_number(task.expected)
        if expected is None:
            raise ConfigError(
                f"task {task.id!r}: expected value {task.expected!r} is not a number; "
                "give a number (or a string like '3/4') or use the 'string' evaluator"
            )
        if answer is None:
            return no_answer(expected.canonical)
        got = extract_number(answer, fallback_last=self.config.fallback_last)
        if got is None:
            return no_answer(expected.canonical, "no number found in the answer")
        ok = numbers_equal(
            got,
            expected,
            rel_tol=self.config.rel_tol,
            abs_tol=self.config.abs_tol,
            percent_as_share=self.config.percent_as_share,
        )
        return Verdict.of(
            ok,
            answer=got.canonical,
            expected=expected.canonical,
            reason="equal" if ok else f"{got.canonical} != {expected.canonical}",
        )
