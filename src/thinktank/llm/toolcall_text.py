"""Text tool-call protocol, for models without native function calling.

The tools are described in a system message; the model calls one by writing a
fenced block tagged ``tool_call`` that holds one JSON object::

    ```tool_call
    {"name": "python", "arguments": {"code": "print(6 * 7)"}}
    ```

Several blocks call several tools. A reply with no such block is a final answer.
Tool results come back as user messages that start with ``Tool result``. A block
whose JSON cannot be parsed still becomes a tool call (named ``invalid_tool_call``
with the raw text as arguments) so the agent can tell the model what went wrong
instead of silently treating the reply as an answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from thinktank.llm.types import ToolCall

INVALID_CALL = "invalid_tool_call"

_BLOCK = re.compile(r"```(?:tool_call|tool|json)\s*\n(.*?)```", re.DOTALL)

_INSTRUCTIONS = """You can call tools. To call a tool, write a fenced block tagged tool_call holding one JSON object with "name" and "arguments":

```tool_call
{{"name": "TOOL_NAME", "arguments": {{"ARG": "VALUE"}}}}
```

Write one block per call and stop after your blocks; the results come back in the next message. When you have the final answer, reply without any tool_call block.

Available tools (JSON schema of each tool's arguments):
{tools}"""


def describe_tools(tools: list[dict[str, Any]]) -> str:
    lines = []
    for t in tools:
        fn = t.get("function", t)
        lines.append(
            json.dumps(
                {
                    "name": fn.get("name"),
                    "description": fn.get("description", ""),
                    "arguments": fn.get("parameters", {}),
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines)


def render(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite a native-tool conversation into plain text messages."""
    intro = _INSTRUCTIONS.format(tools=describe_tools(tools))
    out: list[dict[str, Any]] = []
    if messages and messages[0].get("role") == "system":
        out.append(
            {"role": "system", "content": f"{messages[0].get('content') or ''}\n\n{intro}".strip()}
        )
        rest = messages[1:]
    else:
        out.append({"role": "system", "content": intro})
        rest = messages
    names: dict[str, str] = {}
    for m in rest:
        role = m.get("role")
        if role == "assistant" and m.get("tool_calls"):
            blocks = []
            for tc in m["tool_calls"]:
                fn = tc.get("function", {})
                names[tc.get("id", "")] = fn.get("name", "")
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except ValueError:
                    args = fn.get("arguments")
                blocks.append(
                    "```tool_call\n"
                    + json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False)
                    + "\n```"
                )
            text = ((m.get("content") or "") + "\n\n" + "\n".join(blocks)).strip()
            out.append({"role": "assistant", "content": text})
        elif role == "tool":
            name = names.get(m.get("tool_call_id", ""), "tool")
            out.append(
                {"role": "user", "content": f"Tool result ({name}):\n{m.get('content') or ''}"}
            )
        else:
            # some servers (llama.cpp) reject null content, which is only meaningful with native tool calls
            out.append(
                {
                    **{k: v for k, v in m.items() if k in ("role", "name")},
                    "content": m.get("content") or "",
                }
            )
    return out


def parse(text: str) -> tuple[str, list[ToolCall]]:
    """Split a reply into its text (blocks removed) and the tool calls it makes."""
    calls: list[ToolCall] = []
    for i, match in enumerate(_BLOCK.finditer(text)):
        body = match.group(1).strip()
        cid = "call_" + hashlib.sha1(f"{i}:{body}".encode()).hexdigest()[:12]
        try:
            obj = json.loads(body)
        except ValueError:
            if match.group(0).startswith("```json") and '"name"' not in body:
                continue  # an ordinary JSON snippet, not a call
            calls.append(ToolCall(id=cid, name=INVALID_CALL, arguments=body))
            continue
        if not isinstance(obj, dict) or "name" not in obj:
            if match.group(0).startswith("```json"):
                continue
            calls.append(ToolCall(id=cid, name=INVALID_CALL, arguments=body))
            continue
        args = obj.get("arguments", {})
        calls.append(
            ToolCall(
                id=cid,
                name=str(obj["name"]),
                arguments=args if isinstance(args, str) else json.dumps(args, ensure_ascii=False),
            )
        )
    if not calls:
        return text, []
    stripped = _BLOCK.sub("", text).strip()
    return stripped, calls
