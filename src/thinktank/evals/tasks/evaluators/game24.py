"""Game of 24 answers, checked programmatically.

The expression is read from the reply's final-answer marker (``Answer: ...`` or
``\\boxed{...}``), else its last non-empty line, and validated by
:func:`thinktank.evals.tasks.suites.game24.check_expression` (safe ``ast`` parsing,
exact arithmetic, each number used once). The hand is ``task.metadata["numbers"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.evals.tasks.suites.game24 import TARGET, check_expression, normalize_expression
from thinktank.graphs.answers.latex import final_segment

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


class Game24Config(StrictModel):
    """Check a Game-of-24 expression against the task's numbers."""

    type: Literal["game24"] = "game24"
    """Discriminator."""
    target: int = TARGET
    """The value the expression must reach."""

    def build(self) -> Game24Evaluator:
        return Game24Evaluator(self)


def extract_expression(reply: str) -> str | None:
    """The expression a reply proposes (final-answer marker, else its last line)."""
    segment = final_segment(reply)
    if segment is None:
        lines = [ln for ln in reply.strip().splitlines() if ln.strip()]
        segment = lines[-1] if lines else ""
    expr = normalize_expression(segment)
    return expr or None


class Game24Evaluator(Evaluator):
    """Valid expression over exactly the hand's numbers that equals the target."""

    name = "game24"

    def __init__(self, config: Game24Config | None = None) -> None:
        self.config = config or Game24Config()

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        numbers = task.metadata.get("numbers")
        if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers):
            raise ConfigError(
                f"task {task.id!r}: the game24 evaluator needs metadata['numbers'], a list of ints"
            )
        expected = " ".join(str(n) for n in numbers) + f" -> {self.config.target}"
        expr = extract_expression(answer) if answer is not None else None
        if expr is None:
            return no_answer(expected, "no expression found in the answer")
        ok, reason = check_expression(expr, numbers, self.config.target)
        return Verdict.of(ok, answer=expr, expected=expected, reason=reason)
