"""What one run of a graph produced: :class:`RunResult`, JSON-ready."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, computed_field

from thinktank.graphs.select import Candidate, SelectionResult
from thinktank.graphs.spec import ANSWER_ROLES


class RunResult(BaseModel):
    """Everything one run produced; JSON-ready."""

    task_id: str
    answer: str | None
    status: str
    """ok, budget_exhausted, stopped_by_ceo, max_rounds, degraded or error.

    ``degraded``: the run finished, but selection could not use the node it scores
    with (every verifier / judge / fuser call failed), so the answer is the
    majority vote; ``error`` says why."""
    error: str | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    selection: SelectionResult | None = None
    rounds: int = 0
    usage: dict[str, Any] = Field(default_factory=dict)
    cost: float = 0.0
    latency_s: float = 0.0
    budget: dict[str, Any] = Field(default_factory=dict)
    trace: dict[str, Any] = Field(default_factory=dict)
    """``events`` (scheduling, skips, waves, decisions) and ``outputs`` (every sample with its trajectory)."""
    graph: str = ""
    refused_by: str | None = None
    """The budget that refused the run itself (before any sample), if one did."""

    @property
    def refusing_budgets(self) -> set[str]:
        """Names of every budget that refused a call of this run."""
        names = {o.get("refused_by") for o in self.trace.get("outputs", [])} | {self.refused_by}
        return {n for n in names if n}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def samples_requested(self) -> int:
        """Answer-producing samples the graph started (run or refused by a budget)."""
        return sum(1 for o in self.trace.get("outputs", []) if o.get("role") in ANSWER_ROLES)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def samples(self) -> int:
        """Answer-producing samples that ran (a budget refused none of their calls)."""
        return sum(
            1
            for o in self.trace.get("outputs", [])
            if o.get("role") in ANSWER_ROLES and o.get("status") != "budget_exhausted"
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refused(self) -> int:
        """Samples of any role cut short because a budget refused a call."""
        return sum(
            1 for o in self.trace.get("outputs", []) if o.get("status") == "budget_exhausted"
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def truncated(self) -> bool:
        """A budget cut this run: it did less than its graph asks for."""
        return self.status == "budget_exhausted" or self.refused > 0
