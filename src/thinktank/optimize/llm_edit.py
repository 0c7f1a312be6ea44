"""LLM-proposed graph edits, in the manner of AFlow (``--algo llm``).

AFlow evolves workflows by letting an LLM edit the best ones found so far, guided
by their scores. Here the model sees the space's dimensions (with their options)
and the best graphs evaluated so far (with accuracy and cost), picks one to start
from and names the dimensions to change. The result is proposed as the next trial;
choices that are not options of the space are ignored, so a proposal is always a
point of the space (which may still be rejected, like any other).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from thinktank.llm.base import ChatModel
from thinktank.llm.structured import generate_structured
from thinktank.optimize.reinforce import fmt
from thinktank.optimize.results import TrialRecord

SYSTEM = (
    "You are designing multi-agent collaboration graphs for a task set. Each graph is a "
    "set of choices, one option per dimension. Study the evaluated graphs (accuracy, cost "
    "per task) and propose ONE new graph likely to score higher: start from one of them "
    "(its trial number) and change one to three dimensions to options listed for them. "
    "Do not propose a graph that was already evaluated."
)


class GraphEdit(BaseModel):
    """The model's proposal."""

    base: int
    """Trial number of the graph to start from."""
    changes: dict[str, str] = Field(default_factory=dict)
    """Dimension → new option, both exactly as listed."""
    rationale: str = ""


def prompt(dims: Mapping[str, Sequence[Any]], done: Sequence[TrialRecord], k: int = 8) -> str:
    top = sorted(done, key=lambda r: (-(r.score or 0.0), r.cost or 0.0))[:k]
    options = {name: [fmt(o) for o in opts] for name, opts in dims.items()}
    lines = [
        f"- trial {r.number}: accuracy {r.accuracy:.3f}, cost/task ${r.cost or 0:.5f}; "
        + json.dumps({k2: fmt(v) for k2, v in sorted(r.params.items())})
        for r in top
    ]
    return (
        f"Dimensions and their options:\n{json.dumps(options, indent=1)}\n\n"
        f"Best graphs so far ({len(done)} evaluated):\n" + "\n".join(lines)
    )


async def propose(
    model: ChatModel,
    dims: Mapping[str, Sequence[Any]],
    done: Sequence[TrialRecord],
    *,
    seed: int | None = None,
) -> dict[str, Any] | None:
    """Params of the next graph to try (``None`` when the reply offers nothing usable)."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": prompt(dims, done)},
    ]
    reply = await generate_structured(model, messages, GraphEdit, seed=seed)
    base = next((r for r in done if r.number == reply.base), None)
    if base is None:
        base = min(done, key=lambda r: (-(r.score or 0.0), r.cost or 0.0))
    params = dict(base.params)
    changed = False
    for name, text in reply.changes.items():
        for option in dims.get(name, []):
            if fmt(option) == str(text).strip():
                params[name] = option
                changed = True
    return params if changed else None
