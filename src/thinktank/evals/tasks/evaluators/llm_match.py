"""LLM answer-matching against a reference, for free-text answers.

The cheap check runs first: if the normalised answer equals an accepted answer, it
is correct without a model call. Otherwise the judge model (from
:class:`~thinktank.evals.tasks.evaluators.base.EvalContext`) compares the candidate with
the reference through :func:`thinktank.graphs.answers.judge.judge_equivalence`
in its *reference* framing. The judge's reason is kept in the verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.errors import OutputParseError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.evals.tasks.evaluators.string import accepted_answers
from thinktank.graphs.answers.judge import judge_equivalence
from thinktank.graphs.answers.text import extract_text, normalize_text

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


class LLMMatchConfig(StrictModel):
    """Ask a judge model whether the answer matches the reference."""

    type: Literal["llm_match"] = "llm_match"
    """Discriminator."""
    include_question: bool = True
    """Show the task prompt to the judge (helps with answers that depend on the question)."""
    max_answer_chars: int = Field(default=4000, ge=100)
    """Longer candidate answers are cut to this many characters before judging."""
    use_full_reply: bool = False
    """Judge the whole reply instead of its extracted final answer."""

    def build(self) -> LLMMatchEvaluator:
        return LLMMatchEvaluator(self)


class LLMMatchEvaluator(Evaluator):
    """Reference matching by an LLM judge, after a free normalised-string check."""

    name = "llm_match"

    def __init__(self, config: LLMMatchConfig | None = None) -> None:
        self.config = config or LLMMatchConfig()

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        accepted = accepted_answers(task)
        reference = accepted[0]
        if answer is None:
            return no_answer(reference)
        candidate = answer.strip() if self.config.use_full_reply else extract_text(answer)
        if not candidate:
            return no_answer(reference)
        norm = normalize_text(candidate)
        if norm and norm in {normalize_text(a) for a in accepted}:
            return Verdict.of(True, answer=candidate, expected=reference, reason="equal")
        judge = (context or EvalContext()).require_judge(self.name)
        shown = candidate[: self.config.max_answer_chars]
        if len(accepted) > 1:
            reference_text = reference + " (also accepted: " + "; ".join(accepted[1:]) + ")"
        else:
            reference_text = reference
        try:
            verdict = await judge_equivalence(
                judge,
                reference_text,
                shown,
                question=task.prompt if self.config.include_question else None,
                reference=True,
            )
        except OutputParseError as exc:
            return Verdict(
                correct=False,
                answer=candidate,
                expected=reference,
                reason="judge reply unparseable",
                details={"error": str(exc)[:500]},
            )
        return Verdict.of(
            verdict.equivalent,
            answer=candidate,
            expected=reference,
            reason="judge: match" if verdict.equivalent else "judge: no match",
            details={"judge_reason": verdict.reason, "judge_model": judge.model_id},
        )
