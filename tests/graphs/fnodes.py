"""Function nodes and selection functions the open-graph tests name by import path
(``tests.graphs.fnodes:...``), as a YAML file would."""

from __future__ import annotations

import re
from typing import Any

from thinktank.graphs.functions import NodeContext, RunTask, node
from thinktank.graphs.select import Candidate
from thinktank.graphs.state import NodeOutput

CALLS: list[dict[str, Any]] = []
"""What the functions below were called with (tests read and clear it)."""


@node(does="score")
async def product_check(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
    """1.0 for a candidate equal to the product the question asks for, else 0.0."""
    a, b = map(int, re.findall(r"\d+", task.prompt)[:2])
    CALLS.append({"node": ctx.node, "round": ctx.round, "inputs": [o.id for o in inputs]})
    return {o.id: 1.0 if o.answer == str(a * b) else 0.0 for o in inputs}


@node
async def product(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> int:
    """Answers the product the question asks for (an answering function node)."""
    a, b = map(int, re.findall(r"\d+", task.prompt)[:2])
    CALLS.append({"node": ctx.node, "round": ctx.round, "inputs": [o.id for o in inputs]})
    return a * b


@node(does="score")
async def broken(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
    raise ValueError("the checker broke")


@node(does="score")
async def one_score(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> Any:
    return 0.5  # one value for several candidates: not usable


async def plain(task: RunTask, inputs: list[NodeOutput], ctx: NodeContext) -> str:
    """No @node: naming it by path makes an answering node."""
    return "7"


def not_async(task: Any, inputs: Any, ctx: Any) -> str:
    return "7"


async def two_args(task: Any, inputs: Any) -> str:
    return "7"


def prefer_scored(candidates: list[Candidate], scores: dict[str, dict[str, float]]) -> str | None:
    """The candidate with the highest score of any scoring node, fewest votes breaking ties."""
    CALLS.append({"candidates": [c.id for c in candidates], "scores": scores})
    scored = [c for c in candidates if c.id in scores]
    if not scored:
        return None
    return max(scored, key=lambda c: (max(scores[c.id].values()), -c.votes)).id


async def last_candidate(candidates: list[Candidate], scores: dict[str, Any]) -> Candidate:
    return candidates[-1]


def failing_selection(candidates: list[Candidate], scores: dict[str, Any]) -> str:
    raise RuntimeError("no idea")
