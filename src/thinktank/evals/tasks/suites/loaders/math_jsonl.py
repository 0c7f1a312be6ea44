"""AIME / MATH-style JSONL as ``math`` tasks.

A record has the problem under ``problem`` (or ``question``) and the answer under
``answer``; MATH-style records that only carry a worked ``solution`` get the
answer from its last ``\\boxed{...}``; GSM8K-style answers (a worked solution whose
last line is ``#### 18``) are split: the number after ``####`` is the answer (thousands
separators dropped), the text before it the solution. Ids come from ``id`` / ``unique_id`` /
``problem_id`` or the line number. ``level``, ``type`` / ``subject`` and ``year``
are kept in metadata.

Answers that are numbers (AIME's integers, ``3/4``, ``\\frac{1}{2}``) are judged
with the exact ``numeric`` evaluator; symbolic ones (``\\sqrt{2}``, ``(1, 2)``)
with the normalised ``string`` evaluator — use ``llm_match`` for a more forgiving
comparison.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from thinktank.evals.tasks.evaluators import NumericConfig, StringConfig
from thinktank.evals.tasks.suites.files import Source, parse_records
from thinktank.evals.tasks.task import Task
from thinktank.graphs.answers.latex import last_boxed
from thinktank.graphs.answers.numbers import parse_number

_GSM8K_FINAL = re.compile(r"(?:^|\n)####[ \t]*([^\n]*)\s*$")
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


class MathRecord(BaseModel):
    """One competition-math problem."""

    model_config = ConfigDict(extra="allow")

    problem: str = Field(
        min_length=1, validation_alias=AliasChoices("problem", "question", "Problem")
    )
    """The problem statement."""
    answer: str | None = Field(default=None, validation_alias=AliasChoices("answer", "Answer"))
    """The final answer (text); taken from ``solution`` when absent."""
    solution: str = ""
    """A worked solution ending in ``\\boxed{answer}`` (MATH)."""
    id: str | None = Field(
        default=None, validation_alias=AliasChoices("id", "unique_id", "problem_id", "ID")
    )
    """Unique id (default: the line number)."""

    @field_validator("answer", "id", mode="before")
    @classmethod
    def _to_text(cls, value: Any) -> Any:
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @model_validator(mode="after")
    def _need_answer(self) -> MathRecord:
        final = _GSM8K_FINAL.search(self.answer or "")
        if final is not None:  # GSM8K: "worked solution\n#### 18"
            self.solution = self.solution or (self.answer or "")[: final.start()].strip()
            value = final.group(1).strip()
            self.answer = value.replace(",", "") if _THOUSANDS.fullmatch(value) else value
        if self.answer is None or not self.answer.strip():
            boxed = last_boxed(self.solution) if self.solution else None
            if boxed is None:
                raise ValueError(
                    "field 'answer': missing, and no \\boxed{...} answer in 'solution'"
                )
            self.answer = boxed[0].strip()
        return self


def math_task(record: MathRecord, *, number: int, source: str = "math") -> Task:
    """A ``math`` task from a record (``number`` is its line, used when it has no id)."""
    answer = record.answer or ""
    numeric = (
        parse_number(answer) is not None
        and "\\sqrt" not in answer
        and "," not in answer.strip("{}")
    )
    extra = record.model_extra or {}
    meta: dict[str, Any] = {"source": source}
    for key in ("level", "type", "subject", "year"):
        if key in extra:
            meta[key] = extra[key]
    if record.solution:
        meta["solution"] = record.solution
    return Task(
        id=record.id or f"{source}-{number}",
        kind="math",
        prompt=record.problem,
        expected=answer,
        metadata=meta,
        evaluator=NumericConfig() if numeric else StringConfig(),
    )


def load_math(path: Source, *, source: str = "math") -> list[Task]:
    """AIME/MATH-style JSONL (or a JSON list) as tasks."""
    counter = iter(range(1, 10**9))
    return parse_records(
        path, lambda r: math_task(MathRecord.model_validate(r), number=next(counter), source=source)
    )
