"""Error responses as OpenAI sends them, and the bodies of broken replies.

Status codes, ``error`` bodies (``message``, ``type``, ``param``, ``code``) and
headers follow the OpenAI API so clients exercise their real error paths:

=================  ======  ==========================  ==============================
fault              status  error.type / error.code     extra
=================  ======  ==========================  ==============================
rate_limit         429     requests / rate_limit_exceeded  Retry-After, retry-after-ms
server_error       500     server_error / None
unavailable        503     server_error / None          Retry-After (seconds)
context_length     400     invalid_request_error /      param "messages"
                           context_length_exceeded
auth               401     invalid_request_error /
                           invalid_api_key
timeout            —       hangs ``hang_s``, then answers normally
malformed          200     body / SSE chunk that is not valid JSON
truncated          200     connection cut after ``cut_fraction`` of the body / chunks
=================  ======  ==========================  ==============================
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinktank.llm.simulator.config import Faults
    from thinktank.llm.simulator.engine import Plan


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def error_body(
    message: str, type_: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_plan(
    status: int = 400,
    message: str = "",
    *,
    code: str | None = None,
    param: str | None = None,
    kind: str | None = None,
    faults: Faults | None = None,
    window: int = 8192,
    used: int = 0,
) -> Plan:
    """A :class:`Plan` for an error: a plain 4xx (``status``/``message``) or a fault ``kind``."""
    from thinktank.llm.simulator.engine import Plan

    headers: dict[str, str] = {}
    if kind is None:
        body = error_body(message, "invalid_request_error", code, param)
        return Plan(status=status, error=body)
    if kind == "rate_limit":
        status = 429
        body = error_body(
            "Rate limit reached for requests (simulated). Please try again later.",
            "requests",
            "rate_limit_exceeded",
        )
        if faults is not None:
            if faults.send_retry_after:
                headers["retry-after"] = _seconds(faults.retry_after_s)
            if faults.send_retry_after_ms:
                headers["retry-after-ms"] = str(round(faults.retry_after_s * 1000))
    elif kind == "server_error":
        status = 500
        body = error_body(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        )
    elif kind == "unavailable":
        status = 503
        body = error_body(
            "The engine is currently overloaded, please try again later.", "server_error", None
        )
        if faults is not None and faults.send_retry_after:
            headers["retry-after"] = _seconds(faults.retry_after_s)
    elif kind == "context_length":
        status = 400
        used = used or window + 1
        body = error_body(
            f"This model's maximum context length is {window} tokens. However, your messages "
            f"resulted in {used} tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
        )
    elif kind == "auth":
        status = 401
        body = error_body(
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )
    else:
        raise ValueError(f"{kind!r} is not an error-status fault")
    return Plan(status=status, error=body, headers=headers, fault=kind)


def malformed_body(plan: Plan) -> bytes:
    """A 200 body that starts like a completion and stops mid-object (invalid JSON)."""
    head = json.dumps({"id": plan.request_id, "object": "chat.completion", "model": plan.model})[
        :-1
    ]
    return (
        head + ', "choices": [{"index": 0, "message": {"role": "assistant", "content": "'
    ).encode()


def malformed_chunk(plan: Plan) -> bytes:
    """An SSE event whose data is not valid JSON."""
    return f'data: {{"id": "{plan.request_id}", "choices": [{{"delta": \n\n'.encode()
