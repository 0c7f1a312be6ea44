"""An OpenAI-shaped handler for ``httpx.MockTransport`` (unit tests of the client)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from thinktank.llm.openai import OpenAICompatModel


def completion_body(
    texts: list[str],
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "mock-model",
        "choices": [
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": t,
                    **({"tool_calls": tool_calls} if tool_calls else {}),
                },
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Recorder:
    """Wraps a handler and records every request body it sees."""

    def __init__(self, handler: Callable[[dict[str, Any], int], httpx.Response]) -> None:
        self.handler = handler
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.bodies.append(body)
        return self.handler(body, len(self.bodies))

    @property
    def calls(self) -> int:
        return len(self.bodies)


def mock_model(
    handler: Callable[[dict[str, Any], int], httpx.Response], **kw: Any
) -> tuple[OpenAICompatModel, Recorder]:
    rec = Recorder(handler)
    kw.setdefault("base_url", "http://127.0.0.1:9/v1")
    model = OpenAICompatModel(
        "mock-model", http_client=httpx.AsyncClient(transport=httpx.MockTransport(rec)), **kw
    )
    return model, rec


def ok(
    texts: list[str] | None = None, **kw: Any
) -> Callable[[dict[str, Any], int], httpx.Response]:
    def handler(body: dict[str, Any], _: int) -> httpx.Response:
        n = int(body.get("n", 1))
        return httpx.Response(
            200, json=completion_body(texts or [f"reply {i}" for i in range(n)], **kw)
        )

    return handler
