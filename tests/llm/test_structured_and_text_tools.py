"""Structured output and the text tool-call protocol."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from thinktank.errors import OutputParseError
from thinktank.llm import Capabilities, generate_structured
from thinktank.llm.structured import extract_json
from thinktank.llm.toolcall_text import INVALID_CALL, parse, render

from ._mock import completion_body, mock_model


class Verdict(BaseModel):
    verdict: bool
    score: float


def scripted(*texts: str) -> Any:
    def handler(body: dict[str, Any], i: int) -> httpx.Response:
        return httpx.Response(200, json=completion_body([texts[min(i - 1, len(texts) - 1)]]))

    return handler


async def test_json_schema_path_sends_response_format() -> None:
    model, rec = mock_model(scripted('{"verdict": true, "score": 0.9}'))
    v = await generate_structured(model, ["judge this"], Verdict)
    assert v == Verdict(verdict=True, score=0.9)
    rf = rec.bodies[0]["response_format"]
    assert (
        rf["type"] == "json_schema"
        and rf["json_schema"]["schema"]["properties"]["score"]["type"] == "number"
    )


async def test_prompt_path_then_one_repair_round() -> None:
    model, rec = mock_model(
        scripted("I think it is fine.", 'Sure:\n```json\n{"verdict": false, "score": 0.25}\n```'),
        capabilities=Capabilities(json_schema=False),
    )
    v = await generate_structured(model, ["judge this"], Verdict)
    assert v == Verdict(verdict=False, score=0.25)
    assert rec.calls == 2 and "response_format" not in rec.bodies[0]
    assert "JSON schema" in rec.bodies[0]["messages"][-1]["content"]
    assert "could not be used" in rec.bodies[1]["messages"][-1]["content"]


async def test_two_failures_raise_with_excerpt() -> None:
    model, rec = mock_model(
        scripted('{"verdict": "maybe"}'), capabilities=Capabilities(json_schema=False)
    )
    with pytest.raises(OutputParseError, match="maybe"):
        await generate_structured(model, ["judge"], Verdict)
    assert rec.calls == 2


def test_extract_json_variants() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('text before {"a": {"b": 2}} after') == {"a": {"b": 2}}
    assert extract_json('```\n{"a": 3}\n```') == {"a": 3}
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_text_protocol_parse_calls_and_strip_blocks() -> None:
    reply = 'Let me compute.\n```tool_call\n{"name": "python", "arguments": {"code": "print(1)"}}\n```\n```tool_call\n{"name": "bash", "arguments": {"command": "ls"}}\n```'
    text, calls = parse(reply)
    assert text == "Let me compute."
    assert [c.name for c in calls] == ["python", "bash"]
    assert calls[0].parsed_arguments() == {"code": "print(1)"}
    assert calls[0].id != calls[1].id


def test_text_protocol_malformed_block_becomes_invalid_call() -> None:
    _, calls = parse('```tool_call\n{"name": "python", "arguments": {code: 1}\n```')
    assert calls[0].name == INVALID_CALL and "code" in calls[0].arguments


def test_text_protocol_ignores_plain_json_snippets() -> None:
    text, calls = parse('The answer:\n```json\n{"x": 1}\n```')
    assert calls == [] and "x" in text


def test_text_protocol_render_round_trip() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "python",
                "description": "run code",
                "parameters": {"type": "object", "properties": {"code": {"type": "string"}}},
            },
        }
    ]
    history = [
        {"role": "system", "content": "You solve."},
        {"role": "user", "content": "6*7?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "python", "arguments": '{"code": "print(6*7)"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    out = render(history, tools)
    assert (
        out[0]["role"] == "system"
        and "You solve." in out[0]["content"]
        and '"python"' in out[0]["content"]
    )
    assert all(m["role"] in {"system", "user", "assistant"} for m in out)
    _, calls = parse(out[2]["content"])
    assert calls[0].name == "python" and json.loads(calls[0].arguments) == {"code": "print(6*7)"}
    assert out[3] == {"role": "user", "content": "Tool result (python):\n42"}


async def test_model_without_native_tools_uses_text_protocol() -> None:
    reply = '```tool_call\n{"name": "python", "arguments": {"code": "1+1"}}\n```'
    model, rec = mock_model(scripted(reply), capabilities=Capabilities(native_tools=False))
    tools = [{"type": "function", "function": {"name": "python", "parameters": {"type": "object"}}}]
    [c] = await model.generate(["hi"], tools=tools)
    assert "tools" not in rec.bodies[0] and "tool_call" in rec.bodies[0]["messages"][0]["content"]
    assert c.finish_reason == "tool_calls" and c.tool_calls[0].name == "python"


async def test_native_tool_calls_are_parsed() -> None:
    tc = [
        {
            "id": "call_9",
            "type": "function",
            "function": {"name": "search", "arguments": '{"q": "x"}'},
        }
    ]

    def handler(body: dict[str, Any], i: int) -> httpx.Response:
        return httpx.Response(200, json=completion_body([""], tool_calls=tc))

    model, rec = mock_model(handler)
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    [c] = await model.generate(["hi"], tools=tools, tool_choice="auto")
    assert rec.bodies[0]["tools"] == tools and rec.bodies[0]["tool_choice"] == "auto"
    assert c.tool_calls[0].id == "call_9" and c.tool_calls[0].parsed_arguments() == {"q": "x"}
    assert c.to_message()["tool_calls"][0]["function"]["name"] == "search"
