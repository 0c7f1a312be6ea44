"""A chat-completion reply, as its JSON arrives, into :class:`~thinktank.llm.types.Completion` s.

:class:`~thinktank.llm.openai.OpenAICompatModel` reads replies here rather than through
the SDK's pydantic types: one pass over the parsed JSON, no objects built only to be
read once (a fan-out of 64 reads 64 replies).
"""

from __future__ import annotations

import json
from typing import Any

from thinktank.errors import MalformedResponse
from thinktank.llm import toolcall_text
from thinktank.llm.types import Completion, ToolCall, Usage


def read_completions(
    resp: dict[str, Any], endpoint: str, model: str, latency: float, text_tools: bool
) -> list[Completion]:
    """The completions of the reply ``resp`` from ``endpoint`` (``model`` when it names none).

    Usage is per request: the prompt is charged to the first choice, the completion
    tokens split evenly. ``text_tools``: tool calls are read from the text protocol.
    """
    choices = resp.get("choices") or []
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"{endpoint} returned no choices", endpoint=endpoint)
    if not all(isinstance(ch, dict) and isinstance(ch.get("message"), dict) for ch in choices):
        raise MalformedResponse(
            f"{endpoint} returned a choice without a message: {json.dumps(choices)[:300]}",
            endpoint=endpoint,
        )
    usage = resp.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    name = resp.get("model") or model
    k = len(choices)
    out = []
    for i, ch in enumerate(sorted(choices, key=lambda c: c.get("index") or 0)):
        msg = ch["message"]
        text = msg.get("content") or ""
        calls = [
            ToolCall(
                id=tc.get("id") or f"call_{i}_{j}",
                name=tc["function"].get("name") or "",
                arguments=tc["function"].get("arguments") or "{}",
            )
            for j, tc in enumerate(msg.get("tool_calls") or [])
            if isinstance(tc, dict) and isinstance(tc.get("function"), dict)
        ]
        finish = ch.get("finish_reason") or "stop"
        if text_tools:
            text, calls = toolcall_text.parse(text)
            if calls:
                finish = "tool_calls"
        share = completion // k + (1 if i < completion % k else 0)
        out.append(
            Completion(
                text=text,
                tool_calls=calls,
                finish_reason=finish,
                usage=Usage(
                    prompt_tokens=prompt if i == 0 else 0,
                    completion_tokens=share,
                    latency_s=latency,
                ),
                model=name,
            )
        )
    return out
