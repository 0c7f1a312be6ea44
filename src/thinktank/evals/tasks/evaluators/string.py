"""Normalised short-string answers (web QA, short factual answers).

Both sides go through :func:`~thinktank.graphs.answers.text.normalize_text` (case,
accents, punctuation, articles, whitespace). ``task.expected`` may be one string or
a list of accepted strings; ``task.metadata["aliases"]`` and the config's
``aliases`` add more.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict, no_answer
from thinktank.graphs.answers.text import extract_text, normalize_text, token_f1

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


class StringConfig(StrictModel):
    """Compare the normalised final answer with the accepted answers."""

    type: Literal["string"] = "string"
    """Discriminator."""
    aliases: list[str] = Field(default_factory=list)
    """More accepted answers, added to ``task.expected`` and ``task.metadata['aliases']``."""
    match: Literal["exact", "contains"] = "exact"
    """``exact``: normalised equality. ``contains``: an accepted answer appears, as whole
    words, inside the normalised answer (lenient; for verbose models)."""
    min_f1: float | None = Field(default=None, ge=0.0, le=1.0)
    """When set, a token F1 at or above it also counts as correct."""

    def build(self) -> StringEvaluator:
        return StringEvaluator(self)


def accepted_answers(task: Task, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``task.expected`` (a string or a list of strings) plus aliases, in order."""
    exp = task.expected
    if isinstance(exp, str):
        out = [exp]
    elif isinstance(exp, list | tuple) and all(isinstance(x, str) for x in exp):
        out = list(exp)
    elif isinstance(exp, int | float) and not isinstance(exp, bool):
        out = [str(exp)]
    else:
        raise ConfigError(
            f"task {task.id!r}: expected must be a string or a list of strings for text "
            f"answers, not {type(exp).__name__}"
        )
    aliases = task.metadata.get("aliases") or []
    return [*out, *aliases, *extra]


class StringEvaluator(Evaluator):
    """Normalised string match, optionally lenient."""

    name = "string"

    def __init__(self, config: StringConfig | None = None) -> None:
        self.config = config or StringConfig()

    async def evaluate(
        self, task: Task, answer: str | None, context: EvalContext | None = None
    ) -> Verdict:
        accepted = accepted_answers(task, self.config.aliases)
        targets = [t for t in (normalize_text(a) for a in accepted) if t]
        shown = accepted[0] if accepted else None
        text = extract_text(answer) if answer is not None else None
        if text is None:
            return no_answer(shown)
        got = normalize_text(text)
        if got in targets:
            return Verdict.of(True, answer=text, expected=shown, reason="equal")
        if self.config.match == "contains" and any(
            re.search(rf"(?<!\S){re.escape(t)}(?!\S)", got) for t in targets
        ):
            return Verdict.of(True, answer=text, expected=shown, reason="contains")
        f1 = max((token_f1(got, t) for t in targets), default=0.0)
        if self.config.min_f1 is not None and f1 >= self.config.min_f1:
            return Verdict(correct=True, score=f1, answer=text, expected=shown, reason="f1")
        return Verdict(
            correct=False,
            score=f1 if self.config.min_f1 is not None else 0.0,
            answer=text,
            expected=shown,
            reason="different answer",
            details={"f1": round(f1, 4)},
        )
