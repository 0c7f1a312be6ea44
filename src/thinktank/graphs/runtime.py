"""Per-run context shared by the compiled graph's nodes (task, budget, seed), and the
task of a run as plain fields (:func:`task_fields`).

Set with :func:`run_context` around ``ainvoke``; LangGraph runs nodes in tasks
that inherit the caller's context variables, so every node sees its run.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from thinktank.errors import ConfigError
from thinktank.llm.budget import Budget


def task_fields(task: Any) -> dict[str, Any]:
    """A run's task as plain fields: ``id``, ``prompt``, ``kind``, ``metadata``."""
    if isinstance(task, str):
        return {
            "id": "task-" + hashlib.sha1(task.encode()).hexdigest()[:10],
            "prompt": task,
            "kind": None,
            "metadata": {},
        }
    if isinstance(task, Mapping):
        data = dict(task)
    elif hasattr(task, "prompt"):
        data = {
            "id": getattr(task, "id", None),
            "prompt": task.prompt,
            "kind": getattr(task, "kind", None),
            "metadata": getattr(task, "metadata", None),
        }
    else:
        raise ConfigError(
            f"a task must be a string, a mapping or an object with .prompt, not {type(task).__name__}"
        )
    if not data.get("prompt"):
        raise ConfigError("the task has no prompt")
    data.setdefault("id", "task-" + hashlib.sha1(str(data["prompt"]).encode()).hexdigest()[:10])
    # metadata carries what execution-based selection needs (tests, entry point)
    meta = data.get("metadata")
    return {
        "id": str(data["id"]),
        "prompt": str(data["prompt"]),
        "kind": data.get("kind"),
        "metadata": dict(meta) if isinstance(meta, Mapping) else {},
    }


@dataclass
class RunContext:
    task: dict[str, Any] = field(default_factory=dict)
    budget: Budget | None = None
    seed: int = 0
    run_id: str = ""


_RUN: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "thinktank_run", default=None
)


def current_run() -> RunContext | None:
    return _RUN.get()


@contextmanager
def run_context(ctx: RunContext) -> Iterator[RunContext]:
    token = _RUN.set(ctx)
    try:
        yield ctx
    finally:
        _RUN.reset(token)
