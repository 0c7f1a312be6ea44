"""Plain, serialisable inputs of the learners: an :class:`Attempt` at a task and the
:class:`Judgement` on it (named apart from an agent's
:class:`~thinktank.agents.trajectory.Trajectory` and an evaluator's
:class:`~thinktank.evals.tasks.evaluators.Verdict`, which they are made from).

Learners never see agent objects: whatever ran the task (a graph, a script, a
replayed record) hands over the task prompt, the steps as text, the final answer
and, when known, the outcome. Observations (tool outputs, fetched pages) are kept
apart from the agent's own thoughts and actions so the verbatim-copy guard knows
what an item must not quote.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from thinktank._strict import StrictModel
from thinktank.memory.types import JudgeKind, Outcome

AttemptStepKind = Literal["thought", "action", "observation"]


class AttemptStep(StrictModel):
    """One step of a trajectory."""

    kind: AttemptStepKind = "thought"
    """``thought`` (reasoning), ``action`` (a tool call or code the agent wrote) or
    ``observation`` (what a tool, sandbox or web page returned)."""
    text: str
    """The step as text."""


class Attempt(StrictModel):
    """What happened on one attempt at a task."""

    task: str
    """The task prompt."""
    steps: list[AttemptStep] = Field(default_factory=list)
    """Steps in order; plain strings are accepted as thoughts."""
    final_answer: str = ""
    """The answer the attempt submitted."""
    task_id: str | None = None
    """Identifier of the task (recorded in the provenance of learned items)."""
    run_id: str | None = None
    """Identifier of the run."""
    domain: str | None = None
    """Task family; learned items inherit it."""
    outcome: Outcome | None = None
    """The outcome when already known (e.g. from an evaluator)."""

    @field_validator("steps", mode="before")
    @classmethod
    def _coerce(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"kind": "thought", "text": s} if isinstance(s, str) else s for s in v]
        return v

    def observations(self) -> list[str]:
        """Texts of the observation steps (tool outputs, pages)."""
        return [s.text for s in self.steps if s.kind == "observation"]

    def render(self, *, max_chars: int = 12_000, observation_chars: int = 800) -> str:
        """The trajectory as prompt text, observations clipped (head and tail kept)."""
        lines = [f"Task: {self.task}"]
        for i, s in enumerate(self.steps, 1):
            text = _clip(s.text, observation_chars) if s.kind == "observation" else s.text
            lines.append(f"[{i}] {s.kind}: {text}")
        lines.append(f"Final answer: {self.final_answer or '(none)'}")
        return _clip("\n".join(lines), max_chars)


class Judgement(StrictModel):
    """Whether an attempt succeeded, and who said so."""

    outcome: Outcome
    """``success`` or ``failure``."""
    judge: JudgeKind
    """``ground_truth`` (an evaluator) or ``self_judge`` (an LLM)."""
    rationale: str = ""
    """Why (the evaluator's detail or the judge's reasoning)."""

    @classmethod
    def from_ground_truth(cls, passed: bool, rationale: str = "") -> Judgement:
        """A verdict from an evaluator."""
        return cls(
            outcome="success" if passed else "failure", judge="ground_truth", rationale=rationale
        )


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = max(limit // 2 - 20, 1)
    return f"{text[:half]} …[{len(text) - 2 * half} characters cut]… {text[-half:]}"
