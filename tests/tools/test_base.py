"""The tool contract: schemas from functions and models, and error translation."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from thinktank.errors import BudgetExceeded, ConfigError, ToolCallError
from thinktank.llm.types import ToolCall
from thinktank.tools import TRUNCATION_MARKER, Tool, ToolArgs, ToolResult, Toolset, tool, truncate
from thinktank.tools.function import parse_docstring


@tool
async def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b (int): The second number,
            defaulting to one.
    """
    return a + b


@tool(name="shout", description="Upper-case a text.")
def shout_text(text: str, times: Annotated[int, Field(ge=1, le=3)] = 1) -> str:
    """:param text: what to shout"""
    return " ".join([text.upper()] * times)


@tool
def boom(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"exploded: {reason}")


@tool
def nudge() -> str:
    """Asks the model to do better."""
    raise ToolCallError("use a smaller number")


@tool
def stop_run() -> str:
    """Raises control flow, which must not become an error result."""
    raise BudgetExceeded("out of tokens")


class Point(BaseModel):
    x: float
    y: float


class DistanceArgs(ToolArgs):
    origin: Point
    """Start point."""
    target: Point
    """End point."""
    metric: Literal["euclid", "manhattan"] = "euclid"
    """How to measure."""


class Distance(Tool[DistanceArgs]):
    name = "distance"
    description = "Distance between two points."
    args_model = DistanceArgs

    async def run(self, args: DistanceArgs) -> dict[str, float]:
        dx, dy = args.target.x - args.origin.x, args.target.y - args.origin.y
        value = (dx * dx + dy * dy) ** 0.5 if args.metric == "euclid" else abs(dx) + abs(dy)
        return {"distance": value}


def test_function_schema_carries_docstring_descriptions() -> None:
    schema = add.openai_schema()
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "add" and fn["description"] == "Add two integers."
    params = fn["parameters"]
    assert params["required"] == ["a"]
    assert params["properties"]["a"] == {"type": "integer", "description": "The first number."}
    assert params["properties"]["b"]["description"] == "The second number, defaulting to one."
    assert params["properties"]["b"]["default"] == 1
    assert params["additionalProperties"] is False
    assert "title" not in json.dumps(params)


def test_decorator_options_and_constraints_reach_the_schema() -> None:
    props = shout_text.parameters_schema()["properties"]
    assert shout_text.name == "shout" and shout_text.description == "Upper-case a text."
    assert props["text"]["description"] == "what to shout"
    assert props["times"]["minimum"] == 1 and props["times"]["maximum"] == 3


def test_subclass_schema_uses_field_docstrings_and_nested_models() -> None:
    params = Distance().parameters_schema()
    assert params["properties"]["origin"]["description"] == "Start point."
    assert params["properties"]["metric"]["enum"] == ["euclid", "manhattan"]
    assert "Point" in params["$defs"]
    assert (
        Distance().signature()
        == 'distance(origin: Point, target: Point, metric?: "euclid"|"manhattan" = "euclid")'
    )


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            "Sum.\n\nArgs:\n    a: first\n    b: second\n\nReturns:\n    total",
            {"a": "first", "b": "second"},
        ),
        (
            "Sum.\n\n:param a: first\n:param int b: second\n:returns: total",
            {"a": "first", "b": "second"},
        ),
        (
            "Sum.\n\nParameters\n----------\na : int\n    first\nb : int\n    second\n",
            {"a": "first", "b": "second"},
        ),
    ],
)
def test_docstring_styles(doc: str, expected: dict[str, str]) -> None:
    summary, params = parse_docstring(doc)
    assert summary == "Sum." and params == expected


def test_bad_tool_definitions_fail_early() -> None:
    def variadic(*args: int) -> int:
        return 0

    with pytest.raises(ConfigError, match=r"\*args"):
        tool(variadic)
    with pytest.raises(ConfigError, match="must match"):
        tool(name="has space")(variadic)
    with pytest.raises(ConfigError, match="two tools"):
        Toolset([add, add])


async def test_valid_calls_run_sync_and_async_tools() -> None:
    tools = Toolset([add, shout_text, Distance()])
    assert (await tools.execute("add", '{"a": 2, "b": 5}')).content == "7"
    assert (await tools.execute("add", {"a": "4"})).content == "5"  # lax coercion of numeric text
    assert (await tools.execute("shout", '{"text": "hi", "times": 2}')).content == "HI HI"
    result = await tools.execute(
        "distance", '{"origin": {"x": 0, "y": 0}, "target": {"x": 3, "y": 4}}'
    )
    assert json.loads(result.content) == {"distance": 5.0}
    assert not result.is_error and result.metadata["duration_s"] >= 0


@pytest.mark.parametrize(
    ("name", "arguments", "needle"),
    [
        ("add", '{"a": 1,', "not valid JSON"),
        ("add", "[1, 2]", "must be a JSON object"),
        ("add", '{"a": "one"}', "a: Input should be a valid integer"),
        ("add", "{}", "a: required argument missing"),
        ("add", '{"a": 1, "c": 3}', "unexpected argument 'c'"),
        ("shout", '{"text": "x", "times": 9}', "times: Input should be less than or equal to 3"),
        (
            "distance",
            '{"origin": {"x": 0}, "target": {"x": 1, "y": 1}}',
            "origin.y: required argument missing",
        ),
        ("ad", "{}", "unknown tool 'ad'. Did you mean 'add'?"),
        ("boom", '{"reason": "why"}', "tool 'boom' failed: RuntimeError: exploded: why"),
        ("nudge", "{}", "use a smaller number"),
    ],
)
async def test_every_failure_becomes_an_error_result(
    name: str, arguments: str, needle: str
) -> None:
    tools = Toolset([add, shout_text, Distance(), boom, nudge])
    result = await tools.execute(name, arguments)
    assert result.is_error and result.content.startswith("Error: ")
    assert needle in result.content
    if "argument" in needle or "JSON" in needle:
        assert "Expected: " in result.content  # the signature helps the model retry


async def test_double_encoded_and_empty_arguments_are_tolerated() -> None:
    tools = Toolset([add, nudge])
    odd = await tools.execute("add", [1, 2])  # type: ignore[arg-type]
    assert odd.is_error and "must be a JSON object, not list" in odd.content
    assert (await tools.execute("add", json.dumps(json.dumps({"a": 1})))).content == "2"
    assert (await tools.execute("nudge", "")).metadata["error_type"] == "ToolCallError"


async def test_control_flow_propagates() -> None:
    with pytest.raises(BudgetExceeded):
        await Toolset([stop_run]).execute("stop_run", "{}")


async def test_timeout_becomes_an_error_result() -> None:
    @tool
    async def sleepy() -> str:
        """Sleeps."""
        await asyncio.sleep(5)
        return "done"

    result = await Toolset([sleepy], timeout_s=0.05).execute("sleepy")
    assert result.is_error and "did not finish within 0.05 s" in result.content


async def test_output_is_truncated_with_a_marker() -> None:
    @tool
    def dump(n: int) -> str:
        """Returns n characters."""
        return "".join(chr(ord("a") + i % 26) for i in range(n))

    tools = Toolset([dump], max_output_chars=1000)
    short = await tools.execute("dump", '{"n": 1000}')
    assert len(short.content) == 1000 and "truncated_chars" not in short.metadata
    long = await tools.execute("dump", '{"n": 50000}')
    assert "[… truncated 49,000 characters …]" in long.content
    assert long.content.startswith("abcdefghij") and long.content.endswith(dump.fn(50000)[-300:])
    assert long.metadata["truncated_chars"] == 49_000 and long.metadata["original_chars"] == 50_000
    assert TRUNCATION_MARKER.format(n="5") == "[… truncated 5 characters …]"
    assert truncate("abc", 10) == ("abc", 0)


async def test_tool_calls_from_a_completion_run_concurrently_in_order() -> None:
    # Each call waits until all three have started: run one at a time, the first would
    # wait forever (the 10 s guard fails the test); run together, they all go on. No
    # wall-clock bound, so a loaded machine cannot make this flaky.
    started: list[int] = []
    all_started = asyncio.Event()

    @tool
    async def wait(ms: int) -> int:
        """Waits ms milliseconds once every call has started."""
        started.append(ms)
        if len(started) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=10)
        await asyncio.sleep(ms / 1000)
        return ms

    calls = [
        ToolCall(id=f"c{i}", name="wait", arguments=json.dumps({"ms": ms}))
        for i, ms in enumerate([80, 10, 40])
    ]
    calls.append(ToolCall(id="bad", name="nope", arguments="{}"))
    results = await Toolset([wait]).execute_calls(calls)
    assert sorted(started) == [10, 40, 80]
    assert [r.is_error for r in results[:3]] == [False, False, False]
    assert [r.content for r in results[:3]] == ["80", "10", "40"]  # in call order, not finish order
    assert results[3].is_error and results[3].metadata["call_id"] == "bad"
    assert results[0].to_message("c0") == {"role": "tool", "tool_call_id": "c0", "content": "80"}


async def test_return_values_are_rendered() -> None:
    @tool
    def many(kind: str) -> object:
        """Returns different kinds."""
        return {
            "none": None,
            "list": [1, 2],
            "model": Point(x=1, y=2),
            "result": ToolResult(content="raw"),
        }[kind]

    tools = Toolset([many])
    assert (await tools.execute("many", {"kind": "none"})).content == "(no output)"
    assert json.loads((await tools.execute("many", {"kind": "list"})).content) == [1, 2]
    assert json.loads((await tools.execute("many", {"kind": "model"})).content) == {
        "x": 1.0,
        "y": 2.0,
    }
    assert (await tools.execute("many", {"kind": "result"})).content == "raw"


def test_parameter_names_that_shadow_basemodel_attributes_keep_their_wire_name() -> None:
    @tool
    def query(schema: str, json: bool = False) -> str:
        """Query a schema."""
        return f"{schema}:{json}"

    props = query.parameters_schema()["properties"]
    assert set(props) == {"schema", "json"}
    result = asyncio.run(Toolset([query]).execute("query", {"schema": "s", "json": True}))
    assert result.content == "s:True"
