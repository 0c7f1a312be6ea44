"""Per-run context shared by the compiled graph's nodes (task, budget, seed).

Set with :func:`run_context` around ``ainvoke``; LangGraph runs nodes in tasks
that inherit the caller's context variables, so every node sees its run.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from thinktank.llm.budget import Budget


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
