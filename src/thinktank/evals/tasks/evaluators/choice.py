"""Multiple-choice answers (GPQA-style).

``task.expected`` is the correct letter (``"C"``) or the correct option's text;
``task.metadata["choices"]`` may map letters to option texts (a list is lettered
A, B, C, …) so that a reply naming the option's text also counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.graphs.answers.choice import DEFAULT_LETTERS, extract_choice
from thinktank.graphs.answers.text import normalize_text

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


class ChoiceConfig(StrictModel):
    """Compare the chosen option letter with the expected one."""

    type: Literal["choice"] = "choice"
    """Discriminator."""
    letters: str | None = None
    """Valid letters (e.g. ``"ABCD"``); default: the keys of ``metadata['choices']``, else A–J."""

    def build(self) -> ChoiceEvaluator:
        return ChoiceEvaluator(self)


def task_options(task: Task) -> dict[str, str]:
    """``metadata['choices']`` as a letter → text mapping (empty when absent)."""
    choices = task.metadata.get("choices")
    if not choices:
        return {}
    if isinstance(choices, dict):
        return {str(k).upper(): str(v) for k, v in choices.items()}
    if isinstance(choices, list):
        return {DEFAULT_LETTERS[i]: str(v) for i, v in enumerate(choices)}
    raise ConfigError(
        f"task {task.id!r}: metadata['choices'] must be a list or a letter → text mapping"
    )


class ChoiceEvaluator(Evaluator):
    """Letter comparison."""

    name = "choice"

    def __init__(self, config: ChoiceConfig | None = None) -> None:
        self.config = config or ChoiceConfig()

    def expected_letter(self, task: Task, options: dict[str, str]) -> str:
        exp = task.expected
        if isinstance(exp, str):
            s = exp.strip().strip("()").upper()
            if len(s) == 1 and s.isalpha():
                return s
            hits = [k for k, v in options.items() if normalize_text(v) == normalize_text(exp)]
            if len(hits) == 1:
                return hits[0]
        raise ConfigError(
            f"task {task.id!r}: expected {exp!r} is not an option letter"
            + (" nor the text of exactly one option" if options else "")
            + "; set expected to the correct letter, e.g. 'C'"
        )

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        options = task_options(task)
        expected = self.expected_letter(task, options)
        if answer is None:
            return no_answer(expected)
        letters = self.config.letters or ("".join(options) if options else DEFAULT_LETTERS)
        got = extract_choice(answer, letters=letters, options=options or None)
        if got is None:
            return no_answer(expected, "no option letter found in the answer")
        ok = got == expected
        return Verdict.of(
            ok, answer=got, expected=expected, reason="equal" if ok else "wrong option"
        )
