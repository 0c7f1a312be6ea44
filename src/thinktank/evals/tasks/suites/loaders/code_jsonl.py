"""HumanEval and MBPP JSONL as ``code`` tasks.

HumanEval records: ``task_id``, ``prompt`` (signature + docstring),
``canonical_solution``, ``test`` (``def check(candidate): ...``), ``entry_point``.

MBPP records: ``task_id``, ``text`` (or ``prompt`` in the sanitized split),
``code`` (reference solution), ``test_list`` (assert lines), optional
``test_setup_code`` and ``challenge_test_list``. The prompt shows the test asserts,
as the MBPP paper does, so the model knows the function name and signature.

Both become tasks judged by the ``code_tests`` evaluator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thinktank.evals.tasks.suites.files import Source, parse_records
from thinktank.evals.tasks.task import Task

HUMANEVAL_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function "
    "(signature included) in one ```python code block."
)


class HumanEvalRecord(BaseModel):
    """One HumanEval-format problem."""

    model_config = ConfigDict(extra="allow")

    task_id: str = Field(min_length=1)
    """``HumanEval/0``-style id."""
    prompt: str = Field(min_length=1)
    """Imports, the signature and the docstring; a completion continues it."""
    entry_point: str = Field(min_length=1)
    """Name of the function the tests call."""
    test: str = Field(min_length=1)
    """Test code defining ``check(candidate)``."""
    canonical_solution: str = ""
    """A reference body that passes the tests."""


class MBPPRecord(BaseModel):
    """One MBPP problem (original or sanitized)."""

    model_config = ConfigDict(extra="allow")

    task_id: int | str
    """Problem number."""
    text: str | None = None
    """The description (original split)."""
    prompt: str | None = None
    """The description (sanitized split)."""
    code: str = ""
    """Reference solution."""
    test_list: list[str] = Field(min_length=1)
    """Assert lines the solution must pass."""
    test_setup_code: str = ""
    """Code run before the tests."""
    challenge_test_list: list[str] = Field(default_factory=list)
    """Extra, harder asserts (hidden from the prompt)."""

    def description(self) -> str:
        text = self.text or self.prompt
        if not text:
            raise ValueError("field 'text' (or 'prompt'): an MBPP record needs a description")
        return text


def humaneval_task(record: HumanEvalRecord, *, source: str = "humaneval") -> Task:
    """A ``code`` task from a HumanEval record."""
    return Task(
        id=record.task_id,
        kind="code",
        prompt=f"{HUMANEVAL_INSTRUCTION}\n\n```python\n{record.prompt}```",
        metadata={
            "code_prompt": record.prompt,
            "entry_point": record.entry_point,
            "test": record.test,
            "canonical_solution": record.canonical_solution,
            "source": source,
        },
    )


def mbpp_task(record: MBPPRecord, *, source: str = "mbpp") -> Task:
    """A ``code`` task from an MBPP record."""
    tests = "\n".join(record.test_list)
    prompt = (
        f"{record.description().strip()}\nYour code should pass these tests:\n{tests}\n"
        "Reply with the complete Python code in one ```python code block."
    )
    return Task(
        id=f"mbpp/{record.task_id}",
        kind="code",
        prompt=prompt,
        metadata={
            "test": "\n".join([*record.test_list, *record.challenge_test_list]),
            "test_setup": record.test_setup_code,
            "canonical_solution": record.code,
            "source": source,
        },
    )


def load_humaneval(path: Source, *, source: str = "humaneval") -> list[Task]:
    """HumanEval-format JSONL (or a JSON list) as tasks."""
    return parse_records(
        path, lambda r: humaneval_task(_validate(HumanEvalRecord, r), source=source)
    )


def load_mbpp(path: Source, *, source: str = "mbpp") -> list[Task]:
    """MBPP JSONL (or a JSON list) as tasks."""
    return parse_records(path, lambda r: mbpp_task(_validate(MBPPRecord, r), source=source))


def _validate(model: type[BaseModel], record: Any) -> Any:
    return model.model_validate(record)
