"""Unit tests of the OpenAI-compatible client at the HTTP boundary (httpx.MockTransport)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from thinktank.errors import (
    AuthenticationFailed,
    ConfigError,
    ContextLengthExceeded,
    MalformedResponse,
    MissingCredential,
    ModelError,
    ModelRequestError,
    ModelUnavailable,
    UsageError,
)
from thinktank.llm import Capabilities, Message, RetryPolicy, load_model, parse_model
from thinktank.llm.openai import OpenAICompatModel

from ._mock import completion_body, mock_model, ok

FAST = RetryPolicy(max_retries=3, initial_s=0.001, max_wait_s=0.002)


async def test_basic_completion_carries_text_usage_and_finish() -> None:
    model, rec = mock_model(ok(["hello"], prompt_tokens=12, completion_tokens=3))
    [c] = await model.generate(
        [Message.user("hi")], temperature=0.2, max_tokens=50, stop=["END"], seed=7
    )
    assert c.text == "hello" and c.finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.cached) == (12, 3, False)
    assert c.usage.latency_s > 0
    body = rec.bodies[0]
    assert (
        body["temperature"] == 0.2
        and body["max_tokens"] == 50
        and body["stop"] == ["END"]
        and body["seed"] == 7
    )
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_default_max_tokens_is_always_sent() -> None:
    model, rec = mock_model(ok(), default_max_tokens=77)
    await model.generate(["hi"])
    assert rec.bodies[0]["max_tokens"] == 77


async def test_native_n_in_one_request_with_usage_split() -> None:
    model, rec = mock_model(ok(prompt_tokens=10, completion_tokens=9))
    out = await model.generate(["hi"], n=4, temperature=1.0)
    assert [c.text for c in out] == [f"reply {i}" for i in range(4)]
    assert rec.calls == 1 and rec.bodies[0]["n"] == 4
    assert sum(c.usage.prompt_tokens for c in out) == 10
    assert sum(c.usage.completion_tokens for c in out) == 9


async def test_n_falls_back_to_fan_out_when_endpoint_ignores_it() -> None:
    def one_choice(body: dict[str, Any], i: int) -> httpx.Response:
        return httpx.Response(200, json=completion_body([f"sample seed={body.get('seed')}"]))

    model, rec = mock_model(one_choice)
    out = await model.generate(["hi"], n=3, temperature=1.0, seed=100)
    assert len(out) == 3 and len({c.text for c in out}) == 3  # distinct seeds → distinct samples
    assert rec.calls == 3
    # the endpoint is now known not to support n: no more wasted native attempt
    await model.generate(["hi"], n=2, temperature=1.0, seed=5)
    assert rec.calls == 5 and all("n" not in b for b in rec.bodies[3:])


async def test_capability_off_fans_out_concurrently() -> None:
    model, rec = mock_model(ok(["x"]), capabilities=Capabilities(native_n=False))
    out = await model.generate(["hi"], n=5)
    assert len(out) == 5 and rec.calls == 5 and all("n" not in b for b in rec.bodies)


async def test_retries_429_then_succeeds_honouring_retry_after_ms() -> None:
    def flaky(body: dict[str, Any], i: int) -> httpx.Response:
        if i < 3:
            return httpx.Response(
                429, headers={"retry-after-ms": "50"}, json={"error": {"message": "slow down"}}
            )
        return httpx.Response(200, json=completion_body(["done"]))

    model, rec = mock_model(flaky, retry=RetryPolicy(max_retries=5, initial_s=5.0))
    t0 = time.perf_counter()
    [c] = await model.generate(["hi"])
    elapsed = time.perf_counter() - t0
    assert c.text == "done" and rec.calls == 3
    assert 0.09 <= elapsed < 4.0  # two waits of 50 ms, not the 2 x 5 s backoff


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_stop_after_max_retries_plus_one(status: int) -> None:
    model, rec = mock_model(
        lambda b, i: httpx.Response(status, json={"error": {"message": f"boom {i}"}}), retry=FAST
    )
    with pytest.raises(ModelError) as info:
        await model.generate(["hi"])
    assert rec.calls == FAST.max_retries + 1
    assert "127.0.0.1:9" in str(info.value) and info.value.status == status
    assert f"boom {rec.calls}" in str(info.value)  # the last underlying error is visible
    assert (
        info.value.__cause__ is not None and "RetryError" not in type(info.value.__cause__).__name__
    )


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": {"message": "bad key"}}, AuthenticationFailed),
        (403, {"error": {"message": "forbidden"}}, AuthenticationFailed),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 4096 tokens",
                    "code": "context_length_exceeded",
                }
            },
            ContextLengthExceeded,
        ),
        (400, {"error": {"message": "unknown parameter"}}, ModelRequestError),
        (404, {"error": {"message": "no such model"}}, ModelRequestError),
    ],
)
async def test_non_retryable_errors_are_raised_at_once(
    status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    model, rec = mock_model(lambda b, i: httpx.Response(status, json=body), retry=FAST)
    with pytest.raises(error):
        await model.generate(["hi"])
    assert rec.calls == 1


async def test_auth_error_names_the_key_variable() -> None:
    model, _ = mock_model(
        lambda b, i: httpx.Response(401, json={"error": {"message": "no"}}), api_key_env="MY_KEY"
    )
    with pytest.raises(AuthenticationFailed, match="MY_KEY"):
        await model.generate(["hi"])


async def test_malformed_json_is_retried_then_reported_with_excerpt() -> None:
    model, rec = mock_model(
        lambda b, i: httpx.Response(
            200, content=b'{"choices": [oops', headers={"content-type": "application/json"}
        ),
        retry=FAST,
    )
    with pytest.raises(MalformedResponse, match="oops"):
        await model.generate(["hi"])
    assert rec.calls == FAST.max_retries + 1


async def test_unreachable_endpoint_names_url_after_bounded_retries() -> None:
    # port 9 (discard) on loopback: nothing listens, so connections are refused
    model = OpenAICompatModel("m", base_url="http://127.0.0.1:9/v1", retry=FAST)
    with pytest.raises(ModelUnavailable, match=r"http://127\.0\.0\.1:9/v1") as info:
        await model.generate(["hi"])
    # a refused connection gets refused_retries (2) retries, fewer than max_retries (3)
    assert "connection refused" in str(info.value) and "3 attempts" in str(info.value)
    await model.aclose()


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MissingCredential, match="OPENAI_API_KEY"):
        load_model("openai:gpt-4o-mini")


def test_loopback_guard_refuses_real_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    with pytest.raises(UsageError, match="LOOPBACK_ONLY"):
        load_model("openai:gpt-4o-mini")


def test_key_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY_VAR", "sk-very-secret")
    model = load_model("openai:m@http://127.0.0.1:1/v1", api_key_env="SECRET_KEY_VAR")
    assert "sk-very-secret" not in repr(model) and "sk-very-secret" not in repr(
        parse_model("openai:m@http://127.0.0.1:1/v1")
    )


@pytest.mark.parametrize(
    "spec", ["gpt-4o", "foo:bar", "openai:", "openai:m@ftp://x", "local:llama70b", ""]
)
def test_unknown_model_string_lists_accepted_forms(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_model(spec)
    assert "local:smollm2" in str(info.value) or "embedded" in str(info.value)


def test_model_strings_parse() -> None:
    c = parse_model("openai:llama3@http://127.0.0.1:8000/v1")
    assert (c.model, c.base_url, c.type) == ("llama3", "http://127.0.0.1:8000/v1", "openai")
    v = parse_model("vllm:qwen")
    assert v.base_url == "http://127.0.0.1:8000/v1" and v.model_id == "vllm:qwen"
    o = parse_model("ollama:llama3.2")
    assert o.native_n is False and o.base_url is not None and "11434" in o.base_url
    assert parse_model("local:smollm2").type == "local"


def test_unknown_config_field_is_rejected() -> None:
    from thinktank.llm.config import model_config

    with pytest.raises(ConfigError, match="bogus"):
        model_config({"type": "openai", "model": "m", "bogus": 1})


def test_sync_wrapper_works_repeatedly_across_event_loops() -> None:
    model, rec = mock_model(ok(["sync"]))
    assert model.generate_sync(["hi"])[0].text == "sync"
    assert model.generate_sync(["again"])[0].text == "sync"  # a new loop: the client is rebuilt
    assert rec.calls == 2


async def test_sync_wrapper_inside_a_running_loop() -> None:
    model, _ = mock_model(ok(["nested"]))
    assert model.generate_sync(["hi"])[0].text == "nested"


# --- the request as the SDK's typed call would send it ----------------------------------

_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up.",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
        },
    }
]
_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        "strict": True,
    },
}
_CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"word": "cat"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "a small feline"},
]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 3, "temperature": 0.7, "max_tokens": 20, "seed": 4, "stop": ["END", "\n\n"]},
        {"tools": _TOOLS, "tool_choice": "auto", "max_tokens": 64},
        {"tools": _TOOLS, "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
        {"response_format": _SCHEMA, "temperature": 0.0},
    ],
)
@pytest.mark.parametrize("extra_body", [None, {"top_k": 5, "repetition_penalty": 1.1}])
async def test_the_request_is_what_the_sdks_typed_call_sends(
    kwargs: dict[str, Any], extra_body: dict[str, Any] | None
) -> None:
    """thinktank posts its body through the SDK's generic ``post``, skipping the typed
    ``chat.completions.create`` (whose parameter transform costs CPU for nothing): the
    same bytes must reach the server, headers and all, or the shortcut is wrong."""
    import json

    import openai

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        n = int(json.loads(request.content).get("n", 1))
        return httpx.Response(200, json=completion_body([f"r{i}" for i in range(n)]))

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    model = OpenAICompatModel(
        "mock-model",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-test",
        http_client=http,
        extra_body=extra_body,
        timeout_s=30.0,
    )
    out = await model.generate(_CONVERSATION, **kwargs)
    assert len(out) == kwargs.get("n", 1)
    sdk = openai.AsyncOpenAI(
        api_key="sk-test",
        base_url="http://127.0.0.1:9/v1",
        http_client=http,  # type: ignore[arg-type]
        max_retries=0,
        timeout=model.timeout,  # type: ignore[arg-type]
    )
    typed = {"model": "mock-model", "messages": _CONVERSATION, "max_tokens": 1024, **kwargs}
    await sdk.chat.completions.create(**typed, extra_body=extra_body)
    ours, theirs = seen
    assert json.loads(ours.content) == json.loads(theirs.content)
    assert ours.url == theirs.url and ours.method == theirs.method == "POST"
    drop = {"content-length"}  # the same JSON, its keys in another order
    assert {k: v for k, v in ours.headers.items() if k not in drop} == {
        k: v for k, v in theirs.headers.items() if k not in drop
    }
    assert ours.headers["authorization"] == "Bearer sk-test"
    await http.aclose()


async def test_a_choice_without_a_message_is_reported_not_crashed_on() -> None:
    body = completion_body(["x"])
    body["choices"] = [{"index": 0, "finish_reason": "stop"}]
    model, rec = mock_model(lambda b, i: httpx.Response(200, json=body), retry=FAST)
    with pytest.raises(MalformedResponse, match="a choice without a message"):
        await model.generate(["hi"])
    assert rec.calls == 1  # an answer that parses is not asked again


async def test_a_json_body_that_is_not_an_object_is_retried_then_reported() -> None:
    model, rec = mock_model(
        lambda b, i: httpx.Response(200, json=["not", "a", "reply"]), retry=FAST
    )
    with pytest.raises(MalformedResponse, match="not a chat completion"):
        await model.generate(["hi"])
    assert rec.calls == FAST.max_retries + 1
