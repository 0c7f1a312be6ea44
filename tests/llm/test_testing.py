"""ScriptedModel and FunctionModel: the in-process test doubles."""

from __future__ import annotations

import pytest

from thinktank.errors import ScriptExhausted
from thinktank.llm.base import ChatModel
from thinktank.llm.testing import FunctionModel, ScriptedModel, as_completion, prompt_tokens
from thinktank.llm.types import ChatRequest, Completion, ToolCall, Usage


async def test_scripted_replays_in_order_and_records_requests() -> None:
    model = ScriptedModel(["first", "second"])
    assert isinstance(model, ChatModel)
    a = await model.generate([{"role": "user", "content": "one"}])
    b = await model.generate(["two"], temperature=0.5)
    assert [a[0].text, b[0].text] == ["first", "second"]
    assert [r.messages[-1]["content"] for r in model.requests] == ["one", "two"]
    assert model.requests[1].temperature == 0.5
    assert model.remaining == 0 and model.consumed == 2


async def test_scripted_exhaustion_names_the_script_size() -> None:
    model = ScriptedModel(["only"])
    await model.generate(["hi"])
    with pytest.raises(ScriptExhausted, match="holds 1 output"):
        await model.generate(["again"])


async def test_scripted_n_takes_one_output_per_sample() -> None:
    model = ScriptedModel(["a", "b", "c"])
    out = await model.generate(["hi"], n=3)
    assert [c.text for c in out] == ["a", "b", "c"]
    with pytest.raises(ScriptExhausted, match="sample 1 of 2"):
        await model.generate(["hi"], n=2)


async def test_scripted_tool_call_forms() -> None:
    call = ToolCall(id="c1", name="search", arguments='{"q": "x"}')
    model = ScriptedModel(
        [
            [call],
            {"name": "bash", "arguments": {"cmd": "ls"}},
            {"id": "w1", "type": "function", "function": {"name": "fetch", "arguments": "{}"}},
            {"content": "thinking", "tool_calls": [{"name": "python", "arguments": {"code": "1"}}]},
        ]
    )
    out = [(await model.generate(["go"]))[0] for _ in range(4)]
    assert out[0].tool_calls == [call] and out[0].finish_reason == "tool_calls"
    assert out[1].tool_calls[0].name == "bash"
    assert out[1].tool_calls[0].parsed_arguments() == {"cmd": "ls"}
    assert out[2].tool_calls[0].id == "w1"
    assert out[3].text == "thinking" and out[3].tool_calls[0].name == "python"
    ids = [c.tool_calls[0].id for c in out]
    assert len(set(ids)) == 4


async def test_scripted_raises_scripted_exceptions_in_turn() -> None:
    model = ScriptedModel(["ok", TimeoutError("boom"), "after"])
    assert (await model.generate(["a"]))[0].text == "ok"
    with pytest.raises(TimeoutError, match="boom"):
        await model.generate(["b"])
    assert (await model.generate(["c"]))[0].text == "after"


async def test_usage_is_estimated_from_text_length() -> None:
    model = ScriptedModel(["x" * 400, Completion(text="y", usage=Usage(prompt_tokens=7))])
    out = (await model.generate([{"role": "user", "content": "z" * 80}]))[0]
    assert out.usage.completion_tokens == 100
    assert out.usage.prompt_tokens == prompt_tokens(model.requests[0]) > 20
    assert out.model == "scripted"
    given = (await model.generate(["q"]))[0]
    assert given.usage.prompt_tokens == 7 and given.usage.completion_tokens == 0


async def test_function_model_sync_and_async() -> None:
    def echo(req: ChatRequest) -> str:
        return "echo: " + req.messages[-1]["content"]

    async def upper(req: ChatRequest) -> Completion:
        return Completion(text=req.messages[-1]["content"].upper())

    assert (await FunctionModel(echo).generate(["hi"]))[0].text == "echo: hi"
    assert (await FunctionModel(upper).generate(["hi"]))[0].text == "HI"


async def test_function_model_n_by_list_or_repeated_calls() -> None:
    counter = iter(range(100))
    model = FunctionModel(lambda req: f"sample {next(counter)}")
    out = await model.generate(["q"], n=3)
    assert [c.text for c in out] == ["sample 0", "sample 1", "sample 2"]
    assert len(model.requests) == 1

    listed = FunctionModel(lambda req: [f"s{i}" for i in range(req.n)])
    assert [c.text for c in await listed.generate(["q"], n=4)] == ["s0", "s1", "s2", "s3"]

    wrong = FunctionModel(lambda req: ["a", "b"])
    with pytest.raises(ValueError, match="2 outputs for n=3"):
        await wrong.generate(["q"], n=3)


async def test_function_model_tool_call_list_is_one_output() -> None:
    model = FunctionModel(lambda req: [ToolCall(id="a", name="t1"), ToolCall(id="b", name="t2")])
    out = await model.generate(["q"])
    assert len(out) == 1 and [c.name for c in out[0].tool_calls] == ["t1", "t2"]


async def test_function_model_can_raise() -> None:
    def fail(req: ChatRequest) -> str:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await FunctionModel(fail).generate(["q"])


def test_as_completion_rejects_unknown_shapes() -> None:
    with pytest.raises(TypeError):
        as_completion(42)
    with pytest.raises(TypeError, match="unknown keys"):
        as_completion({"contnet": "typo"})
