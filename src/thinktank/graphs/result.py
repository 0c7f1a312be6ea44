"""What one run of a graph produced: :class:`RunResult`, typed and JSON-ready.

Evals keep it in each task's record, reports and the trace viewer show it, memory
learns from its trace and the optimizer scores it: all read these types. Results
written by earlier versions (``verdicts``, ``usage`` and ``trace`` as plain dicts,
``budget`` as ``{}``) load into them unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field, field_validator

from thinktank.graphs.select import Candidate, SelectionResult
from thinktank.graphs.spec import ANSWER_ROLES
from thinktank.graphs.state import RunStatus, SampleStatus, Trace
from thinktank.llm.budget import BudgetState
from thinktank.llm.ledger import UsageTotals


class CandidateVerification(BaseModel):
    """What one verifier sample said of one candidate (its role output, placed)."""

    model_config = ConfigDict(extra="allow")

    verifier: str
    """The verifier sample's id (``node:round:sample@candidate``)."""
    target: str | None = None
    """The candidate judged."""
    verdict: bool | None = None
    score: float | None = None
    rationale: str = ""


class RoundDecision(BaseModel):
    """A controller's (CEO's) decision after a round and what the graph enforced."""

    model_config = ConfigDict(extra="allow")

    round: int
    action: str = "continue"
    recruit: int = 0
    direction: str = ""
    token_budget: int = 0
    answer: str = ""
    enforced: dict[str, Any] = Field(default_factory=dict)
    """``stop``, ``control`` (next round's active critics, direction, max_tokens), ``for_round``."""


class RunUsage(BaseModel):
    """Calls, tokens and dollars of a run: in total, per model and per node."""

    totals: UsageTotals = Field(default_factory=UsageTotals)
    by_model: dict[str, UsageTotals] = Field(default_factory=dict)
    by_node: dict[str, UsageTotals] = Field(default_factory=dict)
    tokens: int = 0
    """Prompt plus completion tokens."""


class RunResult(BaseModel):
    """Everything one run produced; JSON-ready."""

    task_id: str
    answer: str | None
    status: RunStatus
    error: str | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    verifications: list[CandidateVerification] = Field(
        default_factory=list, validation_alias=AliasChoices("verifications", "verdicts")
    )
    """Every verifier sample's judgement of a candidate."""
    decisions: list[RoundDecision] = Field(default_factory=list)
    selection: SelectionResult | None = None
    rounds: int = 0
    usage: RunUsage = Field(default_factory=RunUsage)
    cost: float = 0.0
    latency_s: float = 0.0
    budget: BudgetState | None = None
    """The run's own budget as it ended (``None`` without one)."""
    trace: Trace = Field(default_factory=Trace)
    """Scheduling events and every sample with its trajectory."""
    graph: str = ""
    refused_by: str | None = None
    """The budget that refused the run itself (before any sample), if one did."""

    @field_validator("budget", mode="before")
    @classmethod
    def _no_budget(cls, value: Any) -> Any:
        return None if value == {} else value  # earlier versions wrote {} for "none"

    @property
    def refusing_budgets(self) -> set[str]:
        """Names of every budget that refused a call of this run."""
        names = {o.refused_by for o in self.trace.outputs} | {self.refused_by}
        return {n for n in names if n}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def samples_requested(self) -> int:
        """Answer-producing samples the graph started (run or refused by a budget)."""
        return sum(1 for o in self.trace.outputs if o.role in ANSWER_ROLES)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def samples(self) -> int:
        """Answer-producing samples that ran (a budget refused none of their calls)."""
        return sum(1 for o in self.trace.outputs if o.role in ANSWER_ROLES and not o.refused)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refused(self) -> int:
        """Samples of any role cut short because a budget refused a call."""
        return sum(1 for o in self.trace.outputs if o.status == SampleStatus.BUDGET_EXHAUSTED)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def truncated(self) -> bool:
        """A budget cut this run: it did less than its graph asks for."""
        return self.status == RunStatus.BUDGET_EXHAUSTED or self.refused > 0
