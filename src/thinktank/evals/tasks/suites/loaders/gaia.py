"""GAIA-style web research questions as ``web`` tasks.

Records follow the GAIA ``metadata.jsonl`` layout: ``task_id``, ``Question``,
``Final answer``, ``Level``, ``file_name`` and ``Annotator Metadata``. Lower-case
spellings (``question``, ``final_answer`` / ``answer``, ``level``) are accepted for
home-made sets. A final answer of ``?`` (the hidden test split) becomes
``expected=None`` with ``metadata['answer_hidden']``.

Numeric final answers are judged with the ``numeric`` evaluator (GAIA compares
numbers as numbers); all others with the normalised ``string`` evaluator. Tasks
that need an attached file keep its name in ``metadata['file_name']`` and say so
in the prompt.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from thinktank.evals.tasks.evaluators import NumericConfig, StringConfig
from thinktank.evals.tasks.suites.files import Source, parse_records
from thinktank.evals.tasks.task import Task
from thinktank.graphs.answers.numbers import parse_number


class GaiaRecord(BaseModel):
    """One GAIA-style question."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    task_id: str = Field(min_length=1, validation_alias=AliasChoices("task_id", "id"))
    """Unique id."""
    question: str = Field(min_length=1, validation_alias=AliasChoices("Question", "question"))
    """The question."""
    final_answer: str | None = Field(
        default=None, validation_alias=AliasChoices("Final answer", "final_answer", "answer")
    )
    """The expected short answer (``?`` or absent when hidden)."""
    level: int | None = Field(default=None, validation_alias=AliasChoices("Level", "level"))
    """Difficulty level 1–3."""
    file_name: str = ""
    """An attachment the question refers to, if any."""

    @field_validator("final_answer", mode="before")
    @classmethod
    def _answer_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("level", mode="before")
    @classmethod
    def _level_int(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def gaia_task(record: GaiaRecord, *, source: str = "gaia") -> Task:
    """A ``web`` task from a GAIA record."""
    answer = record.final_answer
    hidden = answer is None or answer.strip() in ("", "?")
    prompt = record.question
    if record.file_name:
        prompt += f"\n\n(The question refers to the attached file {record.file_name}.)"
    numeric = (
        not hidden
        and answer is not None
        and parse_number(answer) is not None
        and not any(c.isalpha() for c in answer)
    )
    meta: dict[str, Any] = {"source": source, "level": record.level}
    if record.file_name:
        meta["file_name"] = record.file_name
    if hidden:
        meta["answer_hidden"] = True
    return Task(
        id=record.task_id,
        kind="web",
        prompt=prompt,
        expected=None if hidden else answer,
        metadata=meta,
        evaluator=NumericConfig(rel_tol=1e-9) if numeric else StringConfig(),
    )


def load_gaia(path: Source, *, source: str = "gaia") -> list[Task]:
    """GAIA-style JSONL (or a JSON list) as tasks."""
    return parse_records(path, lambda r: gaia_task(GaiaRecord.model_validate(r), source=source))
