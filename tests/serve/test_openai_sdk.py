"""The ``openai`` SDK, sync and async, streaming and not, against ``thinktank serve``."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.serve.conftest import KEY, check_usage, fetch_run
from thinktank.serve import ServeServer


def _client(server: ServeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def test_models_lists_the_served_graphs(served: ServeServer) -> None:
    client = _client(served)
    assert [m.id for m in client.models.list()] == ["bo4", "single"]
    assert client.models.retrieve("bo4").owned_by == "thinktank"


def test_a_completion_is_the_graphs_answer_and_every_token_it_spent(
    served: ServeServer, questions: list[Any]
) -> None:
    q = questions[0]
    resp = _client(served).chat.completions.create(
        model="bo4", messages=[{"role": "user", "content": q.question}], seed=7
    )
    assert resp.object == "chat.completion" and resp.model == "bo4"
    assert resp.choices[0].finish_reason == "stop"
    answer = resp.choices[0].message.content
    run = fetch_run(served, resp.id)
    assert run["model"] == "bo4" and run["seed"] == 7
    assert answer == run["result"]["answer"] and answer
    assert resp.usage is not None
    check_usage(resp.usage.model_dump(), run)
    ext = (resp.model_extra or {})["thinktank"]
    assert ext["status"] == "ok" and ext["samples"] == 4 and not ext["truncated"]
    assert ext["cost_usd"] == pytest.approx(run["result"]["cost"]) and ext["cost_usd"] > 0
    assert ext["run"] == f"/v1/thinktank/runs/{resp.id}"
    # four samples ran, one per call, all recorded in the trace
    assert len(run["result"]["trace"]["outputs"]) == 4


def test_the_same_seed_gives_the_same_run(served: ServeServer, questions: list[Any]) -> None:
    client = _client(served)
    msgs = [{"role": "user", "content": questions[1].question}]
    a = client.chat.completions.create(model="bo4", messages=msgs, seed=3)
    b = client.chat.completions.create(model="bo4", messages=msgs, seed=3)
    assert a.id != b.id
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage == b.usage


def test_streaming_sends_role_answer_finish_usage_then_done(
    served: ServeServer, questions: list[Any]
) -> None:
    stream = _client(served).chat.completions.create(
        model="bo4",
        messages=[{"role": "user", "content": questions[2].question}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert {c.id for c in chunks} == {last.id}
    run = fetch_run(served, last.id)
    assert text == run["result"]["answer"]
    check_usage(last.usage.model_dump(), run)


async def test_the_async_client_streams_and_not(served: ServeServer, questions: list[Any]) -> None:
    import asyncio

    client = openai.AsyncOpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    try:
        msgs = [[{"role": "user", "content": q.question}] for q in questions[:4]]
        replies = await asyncio.gather(
            *(client.chat.completions.create(model="single", messages=m) for m in msgs)
        )
        for r in replies:
            run = fetch_run(served, r.id)
            assert r.choices[0].message.content == run["result"]["answer"]
            check_usage(r.usage.model_dump(), run)
        stream = await client.chat.completions.create(
            model="single",
            messages=msgs[0],
            stream=True,
        )
        chunks = [c async for c in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == fetch_run(served, chunks[0].id)["result"]["answer"]
        assert all(c.usage is None for c in chunks)  # no include_usage: no usage chunk
    finally:
        await client.close()


def test_system_messages_and_earlier_turns_reach_the_graph_as_context(
    served: ServeServer, questions: list[Any]
) -> None:
    q = questions[3]
    resp = _client(served).chat.completions.create(
        model="single",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi! Ask away."},
            {"role": "user", "content": [{"type": "text", "text": q.question}]},
        ],
    )
    [sample] = fetch_run(served, resp.id)["result"]["trace"]["outputs"]
    prompt = next(m for m in sample["trajectory"]["messages"] if m["role"] == "user")["content"]
    assert "Be brief." in prompt and "User: Hello\nAssistant: Hi! Ask away." in prompt
    assert prompt.index("Be brief.") < prompt.index("Hello") < prompt.index(q.question)
