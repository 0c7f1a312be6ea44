"""The LangGraph state of a run and the typed records it accumulates.

The state itself is plain JSON-ready data when LangGraph's checkpointer stores it
(without one, its samples stay :class:`NodeOutput` records rather than being dumped
and read back at every step); what a run leaves behind is typed: every sample a
:class:`NodeOutput`, every scheduling step a :class:`TraceEvent`, both gathered in
the run's :class:`Trace` (:attr:`~thinktank.graphs.result.RunResult.trace`), which
evals, reports, memory and the optimizer read.
"""

from __future__ import annotations

import operator
from enum import StrEnum
from typing import Annotated, Any, TypedDict, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    """How a run ended (:attr:`~thinktank.graphs.result.RunResult.status`). A ``str``:
    compares equal to its value and is stored as it."""

    OK = "ok"
    BUDGET_EXHAUSTED = "budget_exhausted"
    """A budget refused a call: the run did less than its graph asks for."""
    STOPPED_BY_CEO = "stopped_by_ceo"
    MAX_ROUNDS = "max_rounds"
    """A looping graph (controller or agreement stop) used all its rounds."""
    DEGRADED = "degraded"
    """Finished, but selection could not use the node it scores with (every verifier /
    judge / fuser call failed): the answer is the majority vote; ``error`` says why."""
    ERROR = "error"


class SampleStatus(StrEnum):
    """How one sample ended (:attr:`NodeOutput.status`)."""

    OK = "ok"
    MAX_STEPS = "max_steps"
    """The agent used its tool steps without a final answer."""
    BUDGET_EXHAUSTED = "budget_exhausted"
    ERROR = "error"


class EventKind(StrEnum):
    """What a :class:`TraceEvent` records."""

    DISPATCH = "dispatch"
    """A node's work items were sent (``node``, ``tasks``, ``active`` samples)."""
    WAVE = "wave"
    """An adaptive node asked for more samples (``samples``; ``settled`` probability)."""
    SETTLED = "settled"
    """An adaptive node stopped sampling (``samples`` taken, ``settled`` probability)."""
    SKIP = "skip"
    """A node did not run this round (``reason``)."""
    ROUND_START = "round_start"
    ROUND_END = "round_end"
    DECISION = "decision"
    """The controller decided (its fields and what the graph ``enforced``)."""
    DECISION_MISSING = "decision_missing"
    """The controller gave no usable decision this round."""
    AGREEMENT = "agreement"
    """Candidates agreed above ``threshold``: the run stopped early."""
    BUDGET_EXHAUSTED = "budget_exhausted"
    SELECT = "select"
    """Selection ran (``method``, ``winner``)."""


class TraceEvent(BaseModel):
    """One step of the scheduler or selection. Fields beyond the common ones are kept
    (a decision carries the controller's fields)."""

    model_config = ConfigDict(extra="allow")

    kind: EventKind
    round: int | None = None
    node: str | None = None
    tasks: int | None = None
    active: int | None = None
    samples: int | None = None
    settled: float | None = None
    reason: str | None = None
    threshold: float | None = None
    method: str | None = None
    winner: str | None = None


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later keys win."""
    return {**(left or {}), **(right or {})}


class NodeOutput(BaseModel):
    """One sample of one node in one round."""

    # dumped into the LangGraph state: enum fields keep their plain values there
    model_config = ConfigDict(use_enum_values=True)

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
    status: SampleStatus = SampleStatus.OK
    error: str | None = None
    refused_by: str | None = None
    """The name of the budget that refused this sample's call (status ``budget_exhausted``)."""
    finished_at: float = 0.0
    """Wall-clock finish time (first-finish selection)."""
    usage: dict[str, int] = Field(default_factory=dict)
    """``prompt_tokens`` and ``completion_tokens`` of the sample's calls."""
    trajectory: dict[str, Any] | None = None
    """The agent's :class:`~thinktank.agents.trajectory.Trajectory` as JSON (messages,
    tool steps, usage)."""

    @property
    def reply(self) -> str:
        """The sample's last model reply (its whole text: code blocks, reasoning); its
        answer when it has none (a function node's)."""
        for step in reversed((self.trajectory or {}).get("steps") or []):
            text = step.get("text") if isinstance(step, dict) else None
            if isinstance(text, str) and text.strip():
                return text
        return self.answer or ""

    @property
    def refused(self) -> bool:
        """A budget refused one of this sample's calls: it did not run to its end."""
        return self.status == SampleStatus.BUDGET_EXHAUSTED


class Trace(BaseModel):
    """What a run did, step by step: scheduling events and every sample."""

    events: list[TraceEvent] = Field(default_factory=list)
    outputs: list[NodeOutput] = Field(default_factory=list)
    """Every sample of every node, in the order they were recorded."""

    def of_role(self, *roles: str) -> list[NodeOutput]:
        return [o for o in self.outputs if o.role in roles]

    def events_of(self, kind: EventKind | str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind == kind]


class WorkItem(TypedDict, total=False):
    """The payload of one ``Send`` to a worker node."""

    node: str
    round: int
    samples: list[int]
    """Indices run by this item (several for first-m sampling)."""
    keep: int
    """First-m: keep the first ``keep`` samples to finish."""
    prompt: str
    inputs: list[str]
    """Ids of the outputs shown, in order."""
    target: str | None
    """The candidate judged or refined."""
    max_tokens: int | None
    """The round's token budget."""
    batch: list[WorkItem]
    """Without a checkpointer: several items of one node run in one LangGraph task."""
    records: list[dict[str, Any]]
    """A function node's inputs: the shown outputs as JSON (it reads them, not a prompt)."""


class GraphState(TypedDict, total=False):
    """LangGraph state; list fields are append-only (``operator.add`` reducers)."""

    task: dict[str, Any]
    round: int
    outputs: Annotated[list[NodeOutput | dict[str, Any]], operator.add]
    """Every sample: :class:`NodeOutput` s, or their JSON when a checkpointer stores the state."""
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


def apply_update(state: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` applied to ``state`` (or to an earlier update) with :class:`GraphState`'s
    reducers, as LangGraph applies a node's update."""
    out = {**state, **update}
    for key, reducer in _REDUCERS.items():
        if key in state and key in update:
            out[key] = reducer(state[key], update[key])
    return out


_REDUCERS = {
    key: hint.__metadata__[0]
    for key, hint in get_type_hints(GraphState, include_extras=True).items()
    if get_origin(hint) is Annotated
}
