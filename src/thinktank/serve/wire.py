"""The OpenAI wire format ``thinktank serve`` speaks: the request it reads, the
completion and stream chunks it writes, and the error object every refusal carries.

The request model ignores fields it does not use (clients send many: ``temperature``,
``max_tokens``, ``user``, …; the graph's nodes set their own sampling), so any
OpenAI client can call it; what it refuses, it refuses with ``{"error": {"message",
"type", "param", "code"}}`` and the status code OpenAI uses for the same case.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktank.errors import ThinktankError

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ServeError(ThinktankError):
    """A request ``thinktank serve`` answers with an OpenAI error object.

    ``status`` is the HTTP status; ``type``, ``code`` and ``param`` fill the object
    (``invalid_request_error`` 400/404, ``authentication_error`` 401,
    ``insufficient_quota`` 402, ``rate_limit_error`` 429, ``server_error`` 5xx).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.headers = code, param, headers or {}

    def body(self) -> dict[str, Any]:
        """The OpenAI error object."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class ChatMessage(BaseModel):
    """One message of a request (only its role and text are read)."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[Any] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False
    """Send a last chunk with the run's ``usage`` (and no choices) before ``[DONE]``."""


class ChatRequest(BaseModel):
    """A ``POST /v1/chat/completions`` body: the fields ``thinktank serve`` reads."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    """The served graph's name (``GET /v1/models`` lists them)."""
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = 1
    """Must be 1: a graph returns one answer (its samples are its own)."""
    seed: int | None = None
    """The run's seed (its samples' seeds derive from it); random when absent."""
    metadata: dict[str, Any] | None = None
    """``budget_usd``, ``budget_tokens`` and ``kind`` are read from it."""
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None


def parse_request(raw: bytes) -> ChatRequest:
    """The request body as a :class:`ChatRequest`; a malformed one is a 400 naming the field."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ServeError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ServeError(400, "the body must be a JSON object", code="invalid_json")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        errors = [(_field_path(e["loc"]), e["msg"]) for e in exc.errors()]
        param = errors[0][0]
        # a union field fails once per member: say every way the value could have been
        said = "; ".join(dict.fromkeys(msg for p, msg in errors if p == param))
        raise ServeError(
            400, f"invalid {param or 'body'}: {said}", code="invalid_value", param=param or None
        ) from exc


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``messages.0.content`` from a pydantic location (the union member tags dropped)."""
    parts: list[str] = []
    for p in loc:
        if isinstance(p, str) and (p in _TYPE_TAGS or not p.isidentifier()):
            break
        parts.append(str(p))
    return ".".join(parts)


def usage(totals: Any) -> dict[str, int]:
    """The OpenAI ``usage`` object from a run's :class:`~thinktank.llm.ledger.UsageTotals`."""
    return {
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.prompt_tokens + totals.completion_tokens,
    }


def completion(
    rid: str, created: int, model: str, answer: str, use: dict[str, int], extension: dict[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` object carrying the graph's answer and the run's usage."""
    message = {"role": "assistant", "content": answer, "refusal": None}
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": use,
        "thinktank": extension,
    }


def chunk(
    rid: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    *,
    finish: str | None = None,
    use: dict[str, int] | None = None,
    extension: dict[str, Any] | None = None,
) -> bytes:
    """One SSE event of a ``chat.completion.chunk`` (``delta=None``: the usage chunk)."""
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    data: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }
    if use is not None:
        data["usage"] = use
    if extension is not None:
        data["thinktank"] = extension
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def error_event(err: ServeError) -> bytes:
    """An error inside a stream already answered 200 (OpenAI clients raise it)."""
    return b"data: " + json.dumps(err.body()).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"
"""An SSE comment: clients skip it; proxies see the connection is alive."""


def now() -> int:
    return int(time.time())
