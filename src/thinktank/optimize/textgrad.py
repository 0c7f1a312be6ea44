"""LLM feedback for REINFORCE: a model reads the results and proposes logit changes.

Follows the "textual gradient" step of Agent-REINFORCE (FIELD.md): besides the
numeric gradient, a model is shown the current distribution over each dimension
and the graphs evaluated so far (best and worst, with accuracy and cost), and
answers with structured changes — ``{"dimension", "option", "delta"}`` — that are
added to the logits (clipped to ``max_edit``). Changes naming an unknown dimension
or option are dropped and reported, never applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from thinktank.llm.base import ChatModel
from thinktank.llm.structured import generate_structured
from thinktank.optimize.reinforce import Policy, fmt

SYSTEM = (
    "You are an optimization assistant tuning a probability distribution over "
    "multi-agent collaboration graphs. Each dimension is one design choice with a "
    "probability per option. From the evaluated graphs, decide which options deserve "
    "more or less probability. Propose at most {k} changes; each adds `delta` (between "
    "-{m} and {m}) to the logit of one option of one dimension. Positive delta = sample "
    "that option more often. Use the dimension and option names exactly as shown."
)


class LogitChange(BaseModel):
    """One proposed change to the distribution."""

    dimension: str
    """A dimension name exactly as shown (e.g. ``solver.n``)."""
    option: str
    """An option of that dimension exactly as shown (e.g. ``8``, ``on``, ``large``)."""
    delta: float
    """Added to the option's logit (positive: more likely)."""


class DistributionFeedback(BaseModel):
    """The model's reply."""

    rationale: str = ""
    """Why, in a sentence or two."""
    changes: list[LogitChange] = Field(default_factory=list)


def _line(params: dict[str, Any], rec: dict[str, Any]) -> str:
    choice = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(params.items()))
    return (
        f"- accuracy {rec.get('accuracy', 0):.3f}, cost/task ${rec.get('cost', 0):.5f}, "
        f"score {rec.get('score', 0):.4f}: {choice or '(all fixed)'}"
    )


def prompt(policy: Policy, results: Sequence[tuple[dict[str, Any], dict[str, Any]]], k: int) -> str:
    """The user message: the distribution and the best and worst evaluated graphs."""
    ranked = sorted(results, key=lambda r: -float(r[1].get("score", 0.0)))
    show = ranked[:k] + [r for r in ranked[-k:] if r not in ranked[:k]]
    dist = json.dumps(policy.table(), indent=1)
    lines = "\n".join(_line(p, r) for p, r in show)
    return (
        f"Current distribution (dimension -> option -> probability):\n{dist}\n\n"
        f"Evaluated graphs ({len(results)} so far; best first, then the worst):\n{lines}\n\n"
        "Reply with the changes to make."
    )


async def textual_gradient(
    model: ChatModel,
    policy: Policy,
    results: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    *,
    max_changes: int = 6,
    max_delta: float = 2.0,
    seed: int | None = None,
) -> tuple[list[dict[str, Any]], list[str], str]:
    """Ask ``model`` for logit changes; returns (valid edits, dropped notes, rationale)."""
    messages = [
        {"role": "system", "content": SYSTEM.format(k=max_changes, m=max_delta)},
        {"role": "user", "content": prompt(policy, results, 5)},
    ]
    reply = await generate_structured(model, messages, DistributionFeedback, seed=seed)
    edits: list[dict[str, Any]] = []
    dropped: list[str] = []
    for c in reply.changes[:max_changes]:
        opts = policy.dims.get(c.dimension)
        if opts is None:
            dropped.append(f"unknown dimension {c.dimension!r}")
            continue
        if c.option not in {fmt(o) for o in opts}:
            dropped.append(f"{c.dimension}: unknown option {c.option!r}")
            continue
        delta = max(-max_delta, min(max_delta, c.delta))
        edits.append({"dimension": c.dimension, "option": c.option, "delta": delta})
    return edits, dropped, reply.rationale
