"""Wire-level data of model access: messages, tool calls, completions, usage.

Messages use the OpenAI chat format (``{"role": ..., "content": ...}``) so any
OpenAI-compatible endpoint accepts them unchanged; :class:`Message` is a typed
helper that produces such dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktank._strict import StrictModel

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One function call requested by the model."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Call id, echoed back in the ``tool`` message that answers it."""
    name: str
    """Name of the tool to call."""
    arguments: str = "{}"
    """Arguments as the JSON text the model wrote (may be invalid JSON)."""

    def parsed_arguments(self) -> dict[str, Any]:
        """Arguments decoded from JSON; raises ``ValueError`` when they are not an object."""
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class Message(BaseModel):
    """A chat message; :meth:`to_dict` gives the OpenAI wire form."""

    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", content=text)

    @classmethod
    def assistant(cls, text: str | None, tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=text, tool_calls=list(tool_calls))

    @classmethod
    def tool(cls, call_id: str, text: str) -> Message:
        return cls(role="tool", content=text, tool_call_id=call_id)


def as_dicts(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Normalise a sequence of :class:`Message` or dicts to plain OpenAI dicts."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m.to_dict())
        elif isinstance(m, Mapping):
            out.append(dict(m))
        elif isinstance(m, str):
            out.append({"role": "user", "content": m})
        else:
            raise TypeError(f"a message must be a Message, a dict or a str, not {type(m).__name__}")
    return out


class Usage(BaseModel):
    """Token counts and timing of one completion (or one call, for n=1)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    """True when this completion was served from the response cache."""
    latency_s: float = 0.0
    """Wall time of the request that produced this completion."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """One sampled reply."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str = "stop"
    """``stop``, ``length``, ``tool_calls``, ``content_filter`` or what the endpoint said."""
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    """The model that produced it, as the endpoint named it."""

    def to_message(self) -> dict[str, Any]:
        """The assistant message to append to a conversation."""
        # what Message.assistant(...).to_dict() gives, without building the Message
        out: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        return out


class ChatRequest(StrictModel):
    """Everything that defines a chat request; hashed (minus ``n``) for the cache."""

    messages: list[dict[str, Any]]
    n: int = Field(default=1, ge=1)
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    stop: list[str] | None = None

    def cache_payload(self, model_id: str) -> dict[str, Any]:
        """The canonical request without ``n`` (the sample index replaces it)."""
        data = self.model_dump(exclude={"n"}, exclude_none=True)
        data["model"] = model_id
        return data
