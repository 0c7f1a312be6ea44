"""Shared pieces of the runner and report tests: arithmetic tasks and a model that
solves them (with optional failures and an ``add`` tool)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thinktank.evals.tasks.task import Task
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.tools import tool

NO_PYTHON = {"math": {"python": False}}
"""Environment options: math tasks without the sandboxed python tool (no Docker)."""


def arith_tasks(n: int, *, kind: str = "math", start: int = 0) -> list[Task]:
    """``t{i}``: "What is i + i?" with answer 2i."""
    return [
        Task(id=f"t{i}", kind=kind, prompt=f"What is {i} + {i}?", expected=str(2 * i))  # type: ignore[arg-type]
        for i in range(start, start + n)
    ]


def _numbers(req: ChatRequest) -> tuple[int, int]:
    text = next(str(m["content"]) for m in req.messages if m["role"] == "user")
    a, b = re.findall(r"What is (\d+) \+ (\d+)\?", text)[0]
    return int(a), int(b)


EVIL = "<img src=x onerror=\"console.error('xss')\">"
"""An answer that must be shown as text, never as markup."""

ROLE_REPLIES = {
    "verifier": '{"verdict": true, "score": 0.8, "rationale": "the sum checks out"}',
    "critic": '{"issues": ["check the carry"], "suggestions": ["add again"]}',
    "ceo": '{"action": "continue", "recruit": 1, "direction": "double-check"}',
}


def arith_model(
    *,
    wrong: Iterable[int] = (),
    broken: set[int] | None = None,
    use_tool: bool = False,
    evil: Iterable[int] = (),
    model_id: str = "function",
    log: list[Any] | None = None,
) -> FunctionModel:
    """Answers ``a + b`` (``a + b + 1`` for ``a`` in ``wrong``, :data:`EVIL` for ``a`` in
    ``evil``); raises for ``a`` in ``broken`` (a live set: tests mend tasks by removing
    them); calls ``add`` first with ``use_tool``. Verifiers, critics and CEOs get
    :data:`ROLE_REPLIES`."""
    wrong, evil = set(wrong), set(evil)

    def reply(req: ChatRequest) -> Any:
        role = re.match(r"You are (?:the |a )?(\w+)", str(req.messages[0]["content"]))
        if role and role.group(1).lower() in ROLE_REPLIES:
            return ROLE_REPLIES[role.group(1).lower()]
        a, b = _numbers(req)
        if log is not None:
            log.append(("call", f"t{a}"))
        if broken is not None and a in broken:
            raise ConnectionError(f"endpoint down for task {a}")
        if use_tool and not any(m["role"] == "tool" for m in req.messages):
            return {"name": "add", "arguments": {"a": a, "b": b}}
        answer: Any = EVIL if a in evil else a + b + (1 if a in wrong else 0)
        return f"I add {a} and {b}.\nAnswer: {answer}"

    return FunctionModel(reply, model_id=model_id)


@tool
async def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def make_rich_run(out: Path) -> Path:
    """A small finished run with everything the viewer shows: tool calls, verifier
    verdicts, CEO decisions, a wrong answer, an answer written as HTML, an error."""
    from thinktank.evals.runs.runner import Runner

    Runner(
        arith_tasks(5, kind="text"),
        ["ceo:critics=1,rounds=2", "best_of_n:n=1,3,select=verifier"],
        arith_model(wrong=[1], broken={3}, evil=[2], use_tool=True),
        out_dir=out,
        environment_options={"text": {"tools": [add]}},
        progress=False,
    ).run_sync()
    return out
