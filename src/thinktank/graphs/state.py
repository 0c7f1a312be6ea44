"""The LangGraph state of a run and the records it accumulates.

Everything here is plain JSON-ready data so LangGraph's checkpointer can store it
and evals, reports, memory and the optimizer can read it back.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field

RunStatus = Literal["ok", "budget_exhausted", "stopped_by_ceo", "max_rounds", "degraded", "error"]


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later keys win."""
    return {**(left or {}), **(right or {})}


class NodeOutput(BaseModel):
    """One sample of one node in one round."""

    id: str
    """``node:round:sample`` (verifiers: ``node:round:sample@candidate``)."""
    node: str
    role: str
    round: int
    sample: int
    answer: str | None = None
    """Final answer, for answer-producing roles."""
    output: Any = None
    """The typed output (dict) or text."""
    target: str | None = None
    """For verifiers: the candidate id judged."""
    inputs: list[str] = Field(default_factory=list)
    """Ids of the outputs this sample was shown, in the order shown (judges pick by number)."""
    status: str = "ok"
    error: str | None = None
    refused_by: str | None = None
    """The name of the budget that refused this sample's call (status ``budget_exhausted``)."""
    finished_at: float = 0.0
    """Wall-clock finish time (first-finish selection)."""
    usage: dict[str, Any] = Field(default_factory=dict)
    trajectory: dict[str, Any] | None = None


WorkItem = dict[str, Any]
"""The payload of one ``Send`` to a worker node: ``node``, ``round``, ``samples``
(indices run by this task; several for first-m sampling), ``keep`` (first-m),
``prompt``, ``inputs`` (ids shown, in order), ``target`` (candidate judged or
refined) and ``max_tokens`` (the round's token budget)."""


class GraphState(TypedDict, total=False):
    """LangGraph state; list fields are append-only (``operator.add`` reducers)."""

    task: dict[str, Any]
    round: int
    outputs: Annotated[list[dict[str, Any]], operator.add]
    decisions: Annotated[list[dict[str, Any]], operator.add]
    events: Annotated[list[dict[str, Any]], operator.add]
    progress: Annotated[dict[str, Any], merge_dicts]
    """``"round:node" -> "done" | "skipped" | "running"``."""
    control: Annotated[dict[str, Any], merge_dicts]
    """CEO-set controls for the current round: ``active``, ``direction``, ``max_tokens``."""
    pending: list[WorkItem]
    status: str
    error: str | None
    result: dict[str, Any]
