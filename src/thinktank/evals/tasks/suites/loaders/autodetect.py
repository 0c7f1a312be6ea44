"""Load a task file whose format is named, or recognised from its first record."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinktank.errors import ConfigError
from thinktank.evals.tasks.suites.files import parse_records, read_records
from thinktank.evals.tasks.task import Task

FORMATS = ("task", "swebench", "humaneval", "mbpp", "gaia", "math")
"""Formats :func:`load_task_file` reads."""


def detect_format(record: dict[str, Any]) -> str | None:
    """The format of one record, from the fields it has (``None`` when unknown)."""
    keys = set(record)
    if {"id", "kind", "prompt"} <= keys:
        return "task"
    if {"instance_id", "problem_statement"} <= keys:
        return "swebench"
    if {"task_id", "entry_point", "test"} <= keys:
        return "humaneval"
    if "test_list" in keys:
        return "mbpp"
    if keys & {"Question", "Final answer"} or {"task_id", "question"} <= keys:
        return "gaia"
    if keys & {"problem", "Problem"} or ("question" in keys and "answer" in keys):
        return "math"
    return None


LOADERS: dict[str, tuple[str, str]] = {
    "swebench": ("thinktank.evals.swe.loader", "load_swebench"),
    "humaneval": ("thinktank.evals.tasks.suites.loaders.code_jsonl", "load_humaneval"),
    "mbpp": ("thinktank.evals.tasks.suites.loaders.code_jsonl", "load_mbpp"),
    "gaia": ("thinktank.evals.tasks.suites.loaders.gaia", "load_gaia"),
    "math": ("thinktank.evals.tasks.suites.loaders.math_jsonl", "load_math"),
}
"""Formats besides ``task`` → (module, loader function), imported on first use (as
:data:`~thinktank.evals.tasks.suites.SUITES`; SWE-bench's loader lives with the SWE code)."""


def _loaders() -> dict[str, Callable[[Path], list[Task]]]:
    loaders: dict[str, Callable[[Path], list[Task]]] = {
        "task": lambda p: parse_records(p, Task.model_validate)
    }
    for name, (module, attr) in LOADERS.items():
        loaders[name] = getattr(importlib.import_module(module), attr)
    return loaders


def load_task_file(path: str | Path, *, format: str = "auto") -> list[Task]:
    """Tasks from a ``.jsonl`` / ``.json`` file in one of :data:`FORMATS`.

    ``format="auto"`` looks at the first record's fields.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"task file {str(p)!r} does not exist")
    if format == "auto":
        first = next(read_records(p), None)
        if first is None:
            raise ConfigError(f"{p.name}: no records")
        number, record = first
        if not isinstance(record, dict):
            raise ConfigError(f"{p.name} line {number}: expected a JSON object")
        detected = detect_format(record)
        if detected is None:
            raise ConfigError(
                f"{p.name} line {number}: cannot tell the format from fields "
                f"{sorted(record)}; pass format= one of {', '.join(FORMATS)}"
            )
        format = detected
    loaders = _loaders()
    if format not in loaders:
        raise ConfigError(f"unknown task file format {format!r}; valid: {', '.join(FORMATS)}")
    return loaders[format](p)
