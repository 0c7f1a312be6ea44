"""The spans of a run, through the real OpenTelemetry SDK: names, tree, GenAI attributes,
token counts and cost, content only on request, failures, the eval runner and serve."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import StatusCode

from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies import topology
from thinktank.llm.budget import Budget
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes import LocalSandboxConfig
from thinktank.tools.code import PythonTool

from .conftest import PATHS, Spans, traced

QUESTION = "What is 6 * 7?"


def solver_with_python(req: ChatRequest) -> Any:
    """Runs ``print(6*7)`` with the python tool, then answers from its output."""
    last = req.messages[-1]
    if last["role"] == "tool":
        return f"The program printed {last['content'].strip()}.\nAnswer: 42"
    return {"name": "python", "arguments": {"code": "print(6*7)"}}


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    sb = await LocalSandboxConfig().build().create()
    try:
        yield sb
    finally:
        await sb.close()


@pytest.fixture
def priced() -> Any:
    set_price("function", input=2.0, output=8.0)
    yield
    reset_prices()


def tool_graph(sandbox: Any, model: Any, n: int = 2) -> Any:
    spec = topology("best_of_n", n=n)
    spec = spec.model_copy(
        update={"nodes": [node.model_copy(update={"tools": ["python"]}) for node in spec.nodes]}
    )
    return compile(spec, models=model, tools=[PythonTool(sandbox)])


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_graph_run_is_one_tree_with_genai_attributes(
    spans: Spans, sandbox: Any, priced: None
) -> None:
    graph = tool_graph(sandbox, FunctionModel(solver_with_python))
    res = await graph.run(QUESTION, run_id="r1")
    assert res.answer == "42"

    name = graph.spec.name
    sample = ("invoke_agent solver", [
        ("chat function", []),
        ("chat function", []),
        ("execute_tool python", [("sandbox.exec local", [])]),
    ])  # fmt: skip
    assert spans.tree() == (f"invoke_workflow {name}", [sample, sample])

    [wf] = spans.named("invoke_workflow")
    a = attrs(wf)
    assert a["gen_ai.operation.name"] == "invoke_workflow"
    assert a["gen_ai.workflow.name"] == name
    assert a["thinktank.run.id"] == "r1" and a["thinktank.run.status"] == "ok"
    totals = res.usage.totals
    assert a["gen_ai.usage.input_tokens"] == totals.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == totals.completion_tokens > 0
    assert a["gen_ai.usage.cost"] == pytest.approx(res.cost) and res.cost > 0
    assert a["thinktank.calls"] == totals.calls == 4

    agents = spans.named("invoke_agent")
    outputs = {o.id: o for o in res.trace.outputs}
    assert {attrs(s)["gen_ai.agent.id"] for s in agents} == set(outputs)
    for s in agents:
        a = attrs(s)
        out = outputs[a["gen_ai.agent.id"]]
        assert a["gen_ai.operation.name"] == "invoke_agent"
        assert a["gen_ai.agent.name"] == "solver" and a["thinktank.agent.role"] == "solver"
        assert a["gen_ai.request.model"] == "function"
        assert (a["thinktank.round"], a["thinktank.sample"]) == (out.round, out.sample)
        assert a["gen_ai.usage.input_tokens"] == out.usage["prompt_tokens"]
        assert a["gen_ai.usage.output_tokens"] == out.usage["completion_tokens"]
        assert a["thinktank.sample.status"] == "ok" and len(spans.children(s)) == 3
        # each sample's chat spans carry exactly its steps' tokens
        chats = [c for c in spans.children(s) if c.name.startswith("chat")]
        steps = out.trajectory["steps"]
        assert sorted(attrs(c)["gen_ai.usage.input_tokens"] for c in chats) == sorted(
            st["usage"]["prompt_tokens"] for st in steps
        )

    for c in spans.named("chat"):
        a = attrs(c)
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == "thinktank"
        assert a["gen_ai.request.model"] == "function"
        assert a["gen_ai.response.finish_reasons"] in (("tool_calls",), ("stop",))
        price = 2.0 * a["gen_ai.usage.input_tokens"] + 8.0 * a["gen_ai.usage.output_tokens"]
        assert a["gen_ai.usage.cost"] == pytest.approx(price / 1e6)
        assert c.status.status_code == StatusCode.UNSET
        assert c.end_time >= c.start_time
    [tool] = {attrs(t)["gen_ai.tool.name"] for t in spans.named("execute_tool")}
    assert tool == "python"
    for t in spans.named("execute_tool"):
        assert attrs(t)["gen_ai.tool.call.id"]
        assert attrs(t)["gen_ai.tool.type"] == "function"
    for e in spans.named("sandbox.exec"):
        a = attrs(e)
        assert a["process.exit.code"] == 0 and a["process.executable.name"] == "python3"
        assert a["thinktank.sandbox.id"] == sandbox.id

    # no content unless asked for
    keys = {k for s in spans.all() for k in attrs(s)}
    assert not keys & {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "process.command_args",
        "input.value",
        "output.value",
    }
    assert all(not s.events for s in spans.all())


async def test_content_is_recorded_when_asked_for(spans_with_content: Spans, sandbox: Any) -> None:
    spans = spans_with_content
    graph = tool_graph(sandbox, FunctionModel(solver_with_python), n=1)
    res = await graph.run(QUESTION)
    assert res.answer == "42"

    [wf] = spans.named("invoke_workflow")
    assert json.loads(attrs(wf)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    ]
    out = json.loads(attrs(wf)["gen_ai.output.messages"])
    assert out[0]["parts"][0]["content"] == "42"

    first, second = sorted(spans.named("chat"), key=lambda s: s.start_time)
    system = json.loads(attrs(first)["gen_ai.system_instructions"])
    assert "solver" in system[0]["content"]
    [user] = json.loads(attrs(first)["gen_ai.input.messages"])
    assert user["role"] == "user" and QUESTION in user["parts"][0]["content"]
    [call] = json.loads(attrs(first)["gen_ai.output.messages"])[0]["parts"]
    assert call["type"] == "tool_call" and call["arguments"] == {"code": "print(6*7)"}
    history = json.loads(attrs(second)["gen_ai.input.messages"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[2]["parts"][0]["type"] == "tool_call_response"
    assert history[2]["parts"][0]["id"] == call["id"]

    [tool] = spans.named("execute_tool")
    assert json.loads(attrs(tool)["gen_ai.tool.call.arguments"]) == {"code": "print(6*7)"}
    assert attrs(tool)["gen_ai.tool.call.result"].strip() == "42"
    [exe] = spans.named("sandbox.exec")
    assert attrs(exe)["process.command_args"] == ("python3", "-c", "print(6*7)")


@pytest.mark.parametrize("path", PATHS)
async def test_content_can_go_to_span_events_only(path: str) -> None:
    from thinktank import telemetry

    with traced(path, telemetry.ContentCapture(events=True)) as spans:
        await compile(topology("single"), models=FunctionModel(lambda r: "Answer: 1")).run("q?")
        [chat] = spans.named("chat")
    assert "gen_ai.input.messages" not in attrs(chat)
    [event] = chat.events
    assert event.name == "gen_ai.client.inference.operation.details"
    assert "q?" in dict(event.attributes or {})["gen_ai.input.messages"]


async def test_cells_of_a_python_session_are_spans_under_their_tool_calls(
    spans_with_content: Spans, sandbox: Any
) -> None:
    spans = spans_with_content
    cells = iter(["x = 6 * 7", "print(x)", "1 / 0"])

    def solver(req: ChatRequest) -> Any:
        if req.messages[-1]["role"] == "tool" and "ZeroDivisionError" in str(
            req.messages[-1]["content"]
        ):
            return "Answer: 42"
        return {"name": "python", "arguments": {"code": next(cells)}}

    spec = topology("single")
    spec = spec.model_copy(
        update={"nodes": [n.model_copy(update={"tools": ["python"]}) for n in spec.nodes]}
    )
    tool = PythonTool(sandbox, stateful=True)
    graph = compile(spec, models=FunctionModel(solver), tools=[tool])
    res = await graph.run(QUESTION)
    assert res.answer == "42"
    calls = sorted(spans.named("execute_tool"), key=lambda s: s.start_time)
    assert [spans.tree(c) for c in calls] == [
        ("execute_tool python", [("sandbox.cell local", [])])
    ] * 3
    cells_ = [spans.children(c)[0] for c in calls]
    assert [attrs(c)["input.value"] for c in cells_] == ["x = 6 * 7", "print(x)", "1 / 0"]
    assert [attrs(c)["process.exit.code"] for c in cells_] == [0, 0, 1]
    assert attrs(cells_[2])["thinktank.cell.error_type"] == "ZeroDivisionError"
    assert all(attrs(c)["thinktank.sandbox.id"] == sandbox.id for c in cells_)


async def test_a_failing_model_call_is_an_error_span(spans: Spans) -> None:
    def broken(req: ChatRequest) -> Any:
        raise RuntimeError("endpoint down")

    res = await compile(topology("best_of_n", n=2), models=FunctionModel(broken)).run("q?")
    assert res.answer is None
    chats = spans.named("chat")
    assert len(chats) == 2
    for c in chats:
        assert c.status.status_code == StatusCode.ERROR
        assert attrs(c)["error.type"] == "RuntimeError"
        assert "endpoint down" in (c.status.description or "")
        assert [e.name for e in c.events] == ["exception"]
    for a in spans.named("invoke_agent"):  # the samples failed with the call
        assert a.status.status_code == StatusCode.ERROR
    [wf] = spans.named("invoke_workflow")
    assert attrs(wf)["thinktank.run.status"] == res.status.value
    assert attrs(wf)["gen_ai.usage.input_tokens"] == 0


async def test_a_budget_refusal_is_a_stop_not_an_error(spans: Spans, priced: None) -> None:
    graph = compile(topology("best_of_n", n=4), models=FunctionModel(lambda r: "Answer: 7"))
    res = await graph.run("q?", budget=Budget(max_calls=2, name="tiny"))
    assert res.samples < 4
    [wf] = spans.named("invoke_workflow")
    assert wf.status.status_code != StatusCode.ERROR
    a = attrs(wf)
    assert a["thinktank.calls"] == res.usage.totals.calls == 2
    assert a["gen_ai.usage.input_tokens"] == res.usage.totals.prompt_tokens
    refused = [s for s in spans.named("invoke_agent") if "thinktank.refused_by" in attrs(s)]
    assert refused and all(attrs(s)["thinktank.refused_by"] == "tiny" for s in refused)
    assert all(s.status.status_code != StatusCode.ERROR for s in spans.all())


async def test_eval_runner_tasks_are_spans_around_their_runs(spans: Spans, tmp_path: Path) -> None:
    from tests.evals.runner_support import NO_PYTHON, arith_model, arith_tasks
    from thinktank.evals.runs.runner import Runner

    runner = Runner(
        arith_tasks(3),
        ["single"],
        arith_model(),
        out_dir=tmp_path,
        environment_options=NO_PYTHON,
        progress=False,
    )
    summary = await runner.run()
    assert summary.recorded == 3
    tasks = spans.named("eval_task")
    assert sorted(attrs(t)["thinktank.task.id"] for t in tasks) == ["t0", "t1", "t2"]
    for t in tasks:
        a = attrs(t)
        assert t.parent is None  # each task is a trace of its own
        assert a["thinktank.task.status"] == "ok" and a["thinktank.task.correct"] is True
        assert a["thinktank.graph"] == "single" and a["thinktank.task.kind"] == "math"
        [wf] = spans.children(t)
        assert wf.name == "invoke_workflow single"
        assert attrs(wf)["thinktank.task.id"] == a["thinktank.task.id"]
        assert a["gen_ai.usage.input_tokens"] == attrs(wf)["gen_ai.usage.input_tokens"] > 0


def test_a_served_request_is_a_server_span_continuing_the_clients_trace(spans: Spans) -> None:
    from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
    from thinktank.serve import GraphRegistry, ServeConfig, ServeServer

    tasks = TaskSet.generate(2, seed=1)
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as sim:
        registry = GraphRegistry.build({"bo3": "best_of_n:n=3"}, f"openai:sim@{sim.base_url}")
        with ServeServer(registry, ServeConfig(port=0)) as server:
            reply = httpx.post(
                f"{server.base_url}/chat/completions",
                json={"model": "bo3", "messages": [{"role": "user", "content": "What is 2+2?"}]},
                headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
                timeout=60,
            )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    [srv] = spans.named("chat bo3")
    a = attrs(srv)
    assert srv.kind.name == "SERVER"
    assert format(srv.context.trace_id, "032x") == trace_id
    assert srv.parent is not None and format(srv.parent.span_id, "016x") == parent_id
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "bo3"
    assert a["gen_ai.response.id"] == body["id"]
    assert a["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"]
    [wf] = spans.children(srv)
    assert wf.name.startswith("invoke_workflow")
    agents = spans.children(wf)
    assert len(agents) == 3 and all(s.name == "invoke_agent solver" for s in agents)
    for s in agents:
        [chat] = spans.children(s)
        assert attrs(chat)["server.address"] == "127.0.0.1"
        assert attrs(chat)["gen_ai.request.model"] == "sim"
        assert attrs(chat)["gen_ai.provider.name"] == "openai"
    assert {format(s.context.trace_id, "032x") for s in spans.all()} == {trace_id}
