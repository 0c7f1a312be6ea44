"""Data of the memory learner: its modes, its config, and what one learning step did."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator

from thinktank._strict import StrictModel
from thinktank.memory.types import JudgeKind, Outcome

LearnMode = Literal[
    "reasoningbank",
    "matts_parallel",
    "matts_sequential",
    "cheatsheet_cumulative",
    "cheatsheet_synthesis",
]
"""How a :class:`~thinktank.learning.runner_hook.MemoryLearner` learns (see its module doc)."""

LEARN_MODES: tuple[str, ...] = get_args(LearnMode)
"""Every learning mode, for CLIs and error messages."""

_DEFAULT_ITEMS = {"reasoningbank": 3, "matts_parallel": 5, "matts_sequential": 3}


class LearnerConfig(StrictModel):
    """Settings of a :class:`~thinktank.learning.runner_hook.MemoryLearner`."""

    mode: LearnMode = "reasoningbank"
    """The learning mode."""
    max_items: int | None = Field(default=None, ge=1, le=20)
    """Items one extraction may keep; default 3 (ReasoningBank, sequential MaTTS) or 5
    (parallel MaTTS)."""
    judge: Literal["self_judge", "oracle"] = "self_judge"
    """Who decides whether a run succeeded before its lessons are written.
    ``self_judge`` (the default, as in ReasoningBank): the model itself, from the
    trajectory; what a deployment without labels can do. ``oracle``: the evaluator's
    verdict (the suite's ground truth) when the task has one, else the self-judge; the
    lessons are then selected with the test labels, so results learned this way are
    labelled *oracle* wherever they are shown. (``auto``, the former default, reads as
    ``oracle``.)"""
    judge_samples: bool = True
    """MaTTS: self-judge samples whose outcome neither the winner's verdict (same answer)
    nor, with the oracle judge, a cheap exact evaluator gives; off leaves them unlabelled."""
    record_use: bool = True
    """Count the items shown to the run's agents as used in a success / failure."""
    once_per_task: bool = False
    """Learn from the first judged result of a task only (a run with several graphs
    still records item use for each)."""
    task_budget: bool = True
    """Learning spends what the graph left of the task's budget (when it has one)."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Token cap of one learning step (on top of the task's budget)."""
    max_usd: float | None = Field(default=None, ge=0)
    """Dollar cap of one learning step (on top of the task's budget)."""
    max_attempts: int = Field(default=8, ge=2, le=32)
    """MaTTS: most samples contrasted / refinement steps read."""
    verbatim_words: int = Field(default=12, ge=4)
    """Items repeating this many consecutive words of a tool output are refused."""
    sheet_name: str = Field(default="cheatsheet", min_length=1)
    """Cumulative mode: the name of the sheet kept in the bank."""
    sheet_chars: int = Field(default=6_000, ge=100)
    """Cheatsheet modes: the sheet's size cap in characters."""
    synthesis_k: int | None = Field(default=None, ge=1, le=50)
    """Synthesis mode: items retrieved per task (default: the node's ``memory_k``)."""
    curate_retries: int = Field(default=2, ge=0)
    """Cumulative mode: re-curations when another writer changed the sheet meanwhile."""
    consolidate_every: int = Field(default=0, ge=0)
    """Consolidate the bank (merge near-duplicates, demote failing items) every this many
    learning steps; 0 never."""

    @field_validator("judge", mode="before")
    @classmethod
    def _former_default(cls, value: Any) -> Any:
        return "oracle" if value == "auto" else value

    def items_for(self, mode: str) -> int:
        """``max_items``, or the default of ``mode``."""
        return self.max_items or _DEFAULT_ITEMS.get(mode, 3)


class TaskLearning(BaseModel):
    """What the learner did after one task; stored with the task's record."""

    task_id: str
    graph: str = ""
    """Name of the graph whose result was learned from."""
    mode: str
    method: str
    """The mode actually applied (a MaTTS mode may fall back to ``reasoningbank``)."""
    outcome: Outcome | None = None
    judge: JudgeKind | None = None
    """``ground_truth`` (an evaluator) or ``self_judge`` (the LLM)."""
    rationale: str = ""
    shown: list[str] = Field(default_factory=list)
    """Memory ids shown to the run's agents (items and sheets)."""
    used_recorded: int = 0
    """Bank items whose use was recorded."""
    items: list[str] = Field(default_factory=list)
    """Ids of the items added to the bank."""
    samples: int = 0
    """MaTTS: samples read."""
    sample_outcomes: list[Outcome | None] = Field(default_factory=list)
    """MaTTS: each sample's outcome (``None``: unknown)."""
    sheet_version: int | None = None
    """Cumulative mode: the version stored (``None``: the sheet was not changed)."""
    warnings: list[str] = Field(default_factory=list)
    """Replies and items that were skipped, and why."""
    notes: list[str] = Field(default_factory=list)
    """Fallbacks and retries (not problems)."""
    skipped: str | None = None
    """Why nothing was learned, when nothing was."""
    budget_stopped: bool = False
    """A budget refused a learning call."""
    tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class LearnerStats(BaseModel):
    """Totals over a learner's life."""

    tasks: int = 0
    """Learning steps run."""
    items: int = 0
    """Items added."""
    warnings: int = 0
    """Warnings recorded (skipped replies and items, budget stops)."""
    used: int = 0
    """Item uses recorded."""
    tokens: int = 0
    cost_usd: float = 0.0

    def add(self, r: TaskLearning) -> None:
        self.tasks += 1
        self.items += len(r.items)
        self.warnings += len(r.warnings)
        self.used += r.used_recorded
        self.tokens += r.tokens
        self.cost_usd += r.cost_usd
