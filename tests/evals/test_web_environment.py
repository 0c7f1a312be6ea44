"""The web environment: a scripted agent answers bundled web questions by searching and
reading the corpus served on loopback, through a compiled graph, and is judged right."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from thinktank.evals.environments.web import WebEnvironment
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task
from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies.single import single
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest, Completion, ToolCall


def reader(task: Task) -> FunctionModel:
    """Searches the question, opens each page the question lists (following the search
    results' URLs), and answers only if the answer is on the pages it read."""
    pages: list[str] = task.metadata["pages"]

    def reply(req: ChatRequest) -> Completion:
        tool_msgs = [m for m in req.messages if m["role"] == "tool"]
        k = len(tool_msgs)
        if k == 0:
            args = {"query": task.prompt}
            return Completion(
                tool_calls=[ToolCall(id="s", name="web_search", arguments=json.dumps(args))]
            )
        if k <= len(pages):
            hop = pages[k - 1]
            if k == 1:
                urls = re.findall(r"http://127\.0\.0\.1:\d+/\S+", str(tool_msgs[0]["content"]))
                url = next(u.rstrip(").,") for u in urls if u.rstrip(").,").endswith(quote(hop)))
                base = url[: -len(quote(hop))]
            else:  # a later hop: search for it too, as a reader would
                base = re.search(r"http://127\.0\.0\.1:\d+/", str(tool_msgs[0]["content"])).group(0)  # type: ignore[union-attr]
            args = {"url": base + quote(hop)}
            return Completion(
                tool_calls=[ToolCall(id=f"f{k}", name="fetch_page", arguments=json.dumps(args))]
            )
        read = " ".join(" ".join(str(m["content"]).split()) for m in tool_msgs[1:]).lower()
        answer = task.expected if str(task.expected).lower() in read else "unknown"
        return Completion(text=f"From the pages I read.\nAnswer: {answer}")

    return FunctionModel(reply)


@pytest.fixture
async def env() -> AsyncIterator[WebEnvironment]:
    web = WebEnvironment()
    await web.start()
    yield web
    await web.close()


async def ask(env: WebEnvironment, task: Task, model: Any) -> Any:
    ctx = await env.open(task)
    assert [t.name for t in ctx.tools] == ["web_search", "fetch_page"]
    graph = compile(single(tools=["web_search", "fetch_page"]), models=model, tools=ctx.tools)
    result = await graph.run(task)
    verdict = await env.evaluate(task, result.answer, ctx)
    await ctx.aclose()
    return result, verdict


async def test_scripted_agent_answers_web_questions_via_the_loopback_corpus(
    env: WebEnvironment,
) -> None:
    tasks = load_suite("web")
    single_hop = next(t for t in tasks if t.metadata["hops"] == 1)
    multi_hop = next(t for t in tasks if t.metadata["hops"] == 2)
    for task in (single_hop, multi_hop):
        result, verdict = await ask(env, task, reader(task))
        calls = [c for s in result.trace.outputs[0].trajectory["steps"] for c in s["tool_calls"]]
        hops = task.metadata["hops"]
        assert [c["name"] for c in calls] == ["web_search"] + ["fetch_page"] * hops
        assert all(not c["is_error"] for c in calls), calls
        assert verdict.correct, (task.id, result.answer, verdict.reason)
    assert env.url and env.url.startswith("http://127.0.0.1:")


async def test_fetch_is_confined_to_the_corpus_server_and_wrong_answers_fail(
    env: WebEnvironment,
) -> None:
    task = load_suite("web")[0]
    ctx = await env.open(task)
    fetch = next(t for t in ctx.tools if t.name == "fetch_page")
    blocked = await fetch.invoke({"url": "http://127.0.0.1:9/secret"})
    assert blocked.is_error
    missing = await fetch.invoke({"url": f"{env.url}/no-such-page.html"})
    assert missing.is_error
    wrong = await env.evaluate(task, "Answer: certainly not this", ctx)
    assert not wrong.correct
