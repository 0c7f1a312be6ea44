"""The unit of evaluation: a :class:`Task`.

A task is plain data (JSON-serialisable): an id, a kind, the prompt shown to the
agents, the expected answer, free metadata (tests for code, the SWE-bench
instance for SWE, the hand for Game of 24, source pages for web questions) and an
optional evaluator config. Suites and loaders produce lists of tasks; the runner
hands each to a graph and judges the result with
:func:`thinktank.evals.tasks.evaluators.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from thinktank._strict import StrictModel
from thinktank.evals.tasks.evaluators import EvaluatorConfig, default_evaluator_config

TaskKind = Literal["math", "choice", "text", "code", "swe", "web"]
"""What a task asks for; decides the default evaluator and how answers are voted on."""

TASK_KINDS: tuple[str, ...] = get_args(TaskKind)


class Task(StrictModel):
    """One problem with a checkable answer."""

    id: str = Field(min_length=1)
    """Unique within its suite; records and resumes key on it."""
    kind: TaskKind
    """``math`` (exact numbers), ``choice``, ``text`` (short free text), ``code``
    (tests), ``swe`` (repository patch), ``web`` (answer found on web pages)."""
    prompt: str = Field(min_length=1)
    """What the agents are asked, as shown to them."""
    expected: Any = None
    """The reference answer: a number, a string, a list of accepted strings, an option
    letter; ``None`` when tests decide (code, SWE)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Kind-specific data (``test``/``entry_point`` for code, the instance for SWE,
    ``numbers`` for Game of 24, ``pages``/``aliases`` for web, ``source``, ``tags``)."""
    evaluator: EvaluatorConfig | None = None
    """How answers are judged; ``None`` = the default for :attr:`kind`."""

    @field_validator("metadata")
    @classmethod
    def _json_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-serialisable: {exc}") from None
        return value

    def evaluator_config(self) -> EvaluatorConfig:
        """:attr:`evaluator`, or the default for :attr:`kind`."""
        return self.evaluator or default_evaluator_config(self.kind)

    @property
    def tags(self) -> list[str]:
        """``metadata['tags']`` (empty when absent)."""
        tags = self.metadata.get("tags") or []
        return [str(t) for t in tags]


def dump_tasks(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write tasks as JSONL (one :class:`Task` per line); returns the path."""
    p = Path(path)
    with p.open("w", encoding="utf-8") as fh:
        for t in tasks:
            fh.write(t.model_dump_json(exclude_none=True) + "\n")
    return p
