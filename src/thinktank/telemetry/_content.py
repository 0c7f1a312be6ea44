"""Message content in the GenAI conventions' JSON shapes (recorded only when the user
opts in): ``gen_ai.input.messages`` / ``gen_ai.output.messages`` are lists of
``{"role", "parts": [...]}`` with ``text``, ``tool_call`` and ``tool_call_response``
parts; ``gen_ai.system_instructions`` a list of ``text`` parts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # OpenAI content parts
        return "".join(
            str(p.get("text", "")) if isinstance(p, Mapping) else str(p) for p in content
        )
    return "" if content is None else str(content)


def message(m: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAI chat message as a GenAI message."""
    role = str(m.get("role", "user"))
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append(
            {
                "type": "tool_call_response",
                "id": m.get("tool_call_id"),
                "response": _text(m.get("content")),
            }
        )
        return {"role": role, "parts": parts}
    text = _text(m.get("content"))
    if text:
        parts.append({"type": "text", "content": text})
    for call in m.get("tool_calls") or ():
        fn = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": fn.get("name"),
                "arguments": _arguments(fn.get("arguments")),
            }
        )
    return {"role": role, "parts": parts}


def split_system(
    messages: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system instructions, the other messages)`` of a conversation."""
    system: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "system":
            system.append({"type": "text", "content": _text(m.get("content"))})
        else:
            rest.append(message(m))
    return system, rest


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"type": "text", "content": text}]}]


def assistant(text: str, finish_reason: str = "stop") -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": text}],
            "finish_reason": finish_reason,
        }
    ]


def completions(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Each completion as one output message (text, then its tool calls)."""
    out = []
    for c in items:
        parts: list[dict[str, Any]] = []
        if c.text:
            parts.append({"type": "text", "content": c.text})
        for call in c.tool_calls:
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.name,
                    "arguments": _arguments(call.arguments),
                }
            )
        out.append({"role": "assistant", "parts": parts, "finish_reason": c.finish_reason})
    return out
