"""Data of a run: its :class:`RunConfig`, one :class:`TaskRecord` per (graph, task), and
the :class:`RunSummary` of each session.

All are plain pydantic data, so a record made by a remote worker travels to the
driver as JSON and the driver alone writes it to the run database.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktank.evals.runs.sweep import GraphEntry
from thinktank.evals.tasks.evaluators import Verdict
from thinktank.graphs.result import RunResult


class TaskStatus(StrEnum):
    """How one task through one graph ended, as recorded: a
    :class:`~thinktank.graphs.state.RunStatus`, or :attr:`INTERRUPTED`. A ``str``:
    compares equal to its value and is stored as it."""

    OK = "ok"
    BUDGET_EXHAUSTED = "budget_exhausted"
    STOPPED_BY_CEO = "stopped_by_ceo"
    MAX_ROUNDS = "max_rounds"
    DEGRADED = "degraded"
    """Judged, but selection fell back to a vote (``error`` says why)."""
    ERROR = "error"
    """The run or its evaluation failed; retried with ``--retry-errors``."""
    INTERRUPTED = "interrupted"
    """The *run* budget refused a model call of the task: not a result, never recorded
    (the task runs again on resume)."""


FINISHED_STATUSES = frozenset(
    {
        TaskStatus.OK,
        TaskStatus.BUDGET_EXHAUSTED,
        TaskStatus.STOPPED_BY_CEO,
        TaskStatus.MAX_ROUNDS,
        TaskStatus.DEGRADED,
    }
)
"""Statuses of a finished task (judged, never run again); ``error`` may be retried."""

INTERRUPTED = TaskStatus.INTERRUPTED

EVALUATION_USAGE = "evaluation_usage"
"""Key in a verdict's details: calls, tokens and dollars that judging the answer took."""


def cause_of(error: str | None) -> str:
    """What an error message says went wrong: its first line, without where it was raised."""
    lines = (error or "").strip().splitlines()
    text = re.sub(r" \(at [\w.-]+:\d+\)$", "", lines[0]) if lines else "unknown error"
    return text if len(text) <= 300 else text[:299] + "…"


def group_causes(errors: Iterable[str | None]) -> list[tuple[int, str]]:
    """``(count, cause)`` per distinct :func:`cause_of`, most frequent first."""
    return [(n, c) for c, n in Counter(cause_of(e) for e in errors).most_common()]


class RunConfig(BaseModel):
    """What a run directory holds results for."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["eval"] = "eval"
    """What kind of run wrote the directory (reports dispatch on it)."""
    suite: str = "custom"
    """Bundled suite name or task file path."""
    suite_options: dict[str, Any] = Field(default_factory=dict)
    graphs: list[GraphEntry] = Field(default_factory=list)
    models: dict[str, str] = Field(default_factory=dict)
    """Model alias → model id (the name used for prices and records)."""
    model_specs: dict[str, str] = Field(default_factory=dict)
    """Model alias → what the user passed (endpoint included); informational."""
    seed: int = 0
    memory: str | None = None
    """The memory bank used (path or description), ``None`` without memory."""
    learning: dict[str, Any] | None = None
    """What learned into memory after each task, as the hook describes itself (the
    memory learner: its ``mode`` and ``judge``; ``judge: oracle`` means lessons were
    selected with the suite's labels). ``None``: no learning."""
    memory_split: float | None = None
    """The fraction of tasks learned on first (``learn_tasks``); the rest were evaluated
    with memory read-only. ``None``: every task learned and was evaluated."""
    learn_tasks: list[str] = Field(default_factory=list)
    """With ``memory_split``: the ids of the tasks learned on (each task's part follows
    from the seed and its id alone, so ``--limit`` may change on resume)."""
    budget_usd: float | None = None
    """The run budget of the latest session (may change on resume)."""
    concurrency: int = 1
    limit: int | None = None
    stream: bool = False
    version: str = ""

    def identity(self) -> dict[str, Any]:
        """What must match for results to belong to the same experiment."""
        return {
            "kind": self.kind,
            "suite": self.suite,
            "suite_options": self.suite_options,
            "graphs": {g.label: g.spec.model_dump(mode="json") for g in self.graphs},
            "models": self.models,
            "seed": self.seed,
            "memory": self.memory is not None,
        } | {  # keys of later settings only when used: older run directories keep resuming
            k: v
            for k, v in (("learning", self.learning), ("memory_split", self.memory_split))
            if v is not None
        }

    @property
    def oracle(self) -> bool:
        """Lessons were judged with the suite's labels: memory results are *oracle* ones."""
        return bool(self.learning and self.learning.get("judge") == "oracle")

    def fingerprint(self) -> str:
        """A hash of :meth:`identity` (budget, concurrency and limit may change on resume)."""
        blob = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def differences(self, other: RunConfig) -> str:
        """A short human description of how ``other`` differs from this config."""
        a, b = self.identity(), other.identity()
        out: list[str] = []
        for key in dict.fromkeys([*a, *b]):
            if a.get(key) == b.get(key):
                continue
            if key == "graphs":
                old, new = set(a[key]), set(b[key])
                changed = sorted(k for k in old & new if a[key][k] != b[key][k])
                bits = [f"+{x}" for x in sorted(new - old)] + [f"-{x}" for x in sorted(old - new)]
                bits += [f"{x} changed" for x in changed]
                out.append("graphs: " + ", ".join(bits))
            else:
                out.append(f"{key}: recorded {a.get(key)!r}, now {b.get(key)!r}")
        return "; ".join(out) or "same settings, different fingerprint version"


class TaskRecord(BaseModel):
    """One task through one graph, as stored: the figures reports aggregate, the typed
    :class:`~thinktank.graphs.result.RunResult` (loaded when asked for: it holds every
    trajectory) and the evaluator's :class:`~thinktank.evals.tasks.evaluators.Verdict`."""

    graph: str
    task_id: str
    task_index: int = 0
    kind: str = ""
    status: TaskStatus
    error: str | None = None
    answer: str | None = None
    expected: str | None = None
    correct: bool | None = None
    score: float | None = None
    reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    samples: int = 0
    """Answer samples that ran."""
    samples_requested: int = 0
    """Answer samples the graph started (``samples`` ran; a budget refused the rest)."""
    refused: int = 0
    """Samples of any role a budget cut short; a record with refusals (or status
    ``budget_exhausted``) is *truncated*: it did less than its graph asks for."""
    sample_correct: list[bool] | None = None
    """Correctness of each final candidate, when cheap to judge (pass@k)."""
    attempt: int = 1
    verdict: Verdict | None = None
    """How the answer was judged (``None`` when it was not)."""
    result: RunResult | None = None
    """The whole run: trajectories, candidates, verifications, decisions. ``None`` when
    the graph never finished, and in records read without it
    (:meth:`~thinktank.evals.runs.records.RunDatabase.records`)."""
    created_at: float = Field(default_factory=time.time)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def evaluation_cost(self) -> float:
        """Dollars judging the answer cost (an LLM judge), apart from :attr:`cost`."""
        usage = (self.verdict.details if self.verdict else {}).get(EVALUATION_USAGE) or {}
        return float(usage.get("cost", 0.0))

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def truncated(self) -> bool:
        """A budget cut this task short: its result is not what its graph would give."""
        return self.status == TaskStatus.BUDGET_EXHAUSTED or self.refused > 0

    def row(self) -> tuple[Any, ...]:
        """Values in the column order of the ``results`` table."""
        return (
            self.graph,
            self.task_id,
            self.task_index,
            self.kind,
            str(self.status),
            self.error,
            self.answer,
            self.expected,
            None if self.correct is None else int(self.correct),
            self.score,
            self.reason,
            self.prompt_tokens,
            self.completion_tokens,
            self.calls,
            self.cost,
            self.latency_s,
            self.samples,
            None if self.sample_correct is None else json.dumps(self.sample_correct),
            self.attempt,
            None if self.verdict is None else self.verdict.model_dump_json(),
            None if self.result is None else self.result.model_dump_json(),
            self.created_at,
            self.samples_requested,
            self.refused,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TaskRecord:
        data = dict(row)
        for key in ("sample_correct", "verdict", "result"):
            if data.get(key):
                data[key] = json.loads(data[key]) or None  # "{}": nothing recorded
        if data.get("correct") is not None:
            data["correct"] = bool(data["correct"])
        return cls.model_validate(data)


class RunSummary(BaseModel):
    """What one session of a run did (:meth:`~thinktank.evals.runs.runner.Runner.run`)."""

    out_dir: str
    run_id: str
    total: int
    """Jobs (task × graph) in the run."""
    skipped: int = 0
    """Already recorded before this session."""
    recorded: int = 0
    """Records written by this session."""
    errors: int = 0
    """Of those, ``error`` records (retry with ``retry_errors``)."""
    degraded: int = 0
    """Of those, ``degraded`` records (selection fell back to a vote)."""
    error_causes: dict[str, int] = Field(default_factory=dict)
    """Cause (:func:`cause_of`) → how many error records gave it."""
    degraded_causes: dict[str, int] = Field(default_factory=dict)
    """Cause → how many degraded records gave it."""
    interrupted: int = 0
    """Jobs the run budget cut short (not recorded; they run again on resume)."""
    truncated: int = 0
    """Records written by this session that a budget cut short (``budget_exhausted``
    or samples refused): they did less than their graph asks for."""
    truncated_by_graph: dict[str, int] = Field(default_factory=dict)
    """Graph label → how many of :attr:`truncated` it had."""
    spent_before_usd: float = 0.0
    """What earlier sessions of the run spent (``budget_usd`` is the run's total)."""
    not_started: int = 0
    stop_reason: Literal["completed", "budget", "cancelled", "failed"] = "completed"
    spent_usd: float = 0.0
    """Spent by this session, interrupted jobs included."""
    budget_usd: float | None = None
    """The run's total budget (all sessions)."""
    wall_s: float = 0.0
    accuracy: dict[str, float | None] = Field(default_factory=dict)
    """Per graph label, over all its judged records (``None`` with none)."""

    @property
    def complete(self) -> bool:
        """Every job has a record."""
        return self.skipped + self.recorded >= self.total
