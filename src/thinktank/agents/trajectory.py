"""What an agent did, step by step, as serialisable records."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from thinktank.llm.types import Usage

AgentStatus = Literal["ok", "max_steps", "submitted", "budget_exhausted", "error"]


class ToolStep(BaseModel):
    """One tool call and its result."""

    call_id: str
    name: str
    arguments: str
    content: str
    """What the model saw (after truncation)."""
    is_error: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0


class Step(BaseModel):
    """One model turn and the tool calls it made."""

    index: int
    text: str = ""
    finish_reason: str = ""
    usage: Usage = Field(default_factory=Usage)
    tool_calls: list[ToolStep] = Field(default_factory=list)
    feedback: str | None = None
    """A correction the agent sent back (empty reply, unparseable output)."""
    duration_s: float = 0.0


class Trajectory(BaseModel):
    """The full record of one agent run; JSON round-trips."""

    agent: str
    role: str
    model: str
    messages: list[dict[str, Any]] = Field(default_factory=list)
    """The final conversation as sent to the model (elided observations included)."""
    steps: list[Step] = Field(default_factory=list)
    output: Any = None
    """The final output: text, or a typed output as a dict."""
    status: AgentStatus = "ok"
    error: str | None = None
    refused_by: str | None = None
    """The name of the budget that refused a call (status ``budget_exhausted``)."""
    memory_ids: list[str] = Field(default_factory=list)
    """Ids of memory items shown to the agent."""
    duration_s: float = 0.0

    @property
    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=sum(s.usage.prompt_tokens for s in self.steps),
            completion_tokens=sum(s.usage.completion_tokens for s in self.steps),
            latency_s=sum(s.usage.latency_s for s in self.steps),
        )

    def tool_outputs(self) -> list[str]:
        """Every tool result text, e.g. for memory's verbatim-copy guard."""
        return [t.content for s in self.steps for t in s.tool_calls]

    def as_text(self, max_chars: int = 12_000) -> str:
        """A compact, human-readable rendering (for judges, memory extraction, reports)."""
        parts: list[str] = []
        for s in self.steps:
            if s.text:
                parts.append(f"[step {s.index}] {s.text.strip()}")
            for t in s.tool_calls:
                flag = " (error)" if t.is_error else ""
                parts.append(f"[tool {t.name}{flag}] args={t.arguments[:300]}\n{t.content[:600]}")
        text = "\n".join(parts)
        return (
            text
            if len(text) <= max_chars
            else text[: max_chars // 2] + "\n…\n" + text[-max_chars // 2 :]
        )
