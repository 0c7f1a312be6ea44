"""A real collector: spans sent over OTLP (HTTP and gRPC) to Arize Phoenix running on
loopback, read back through its REST API — the tree, names, attributes and token counts
of a graph run, of each request to ``thinktank serve``, of each task of ``thinktank eval``.

Phoenix is started by the module's fixture (``make collector`` installs it: ``make test``
does); the module skips only when it is not installed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.telemetry import phoenix as px
from thinktank import telemetry
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies import topology
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes import LocalSandboxConfig
from thinktank.tools.code import PythonTool

pytestmark = pytest.mark.slow

THINKTANK = str(Path(sys.executable).with_name("thinktank"))


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[px.Phoenix]:
    if px.executable() is None:
        # `make test` installs the collector, so a missing Phoenix is a broken install
        if os.environ.get("THINKTANK_SKIP_PHOENIX") == "1":
            pytest.skip("THINKTANK_SKIP_PHOENIX=1")
        pytest.fail(
            f"Phoenix is not installed ({px.VENV_PHOENIX}): run `make collector` "
            "(or set THINKTANK_SKIP_PHOENIX=1)",
            pytrace=False,
        )
    with px.running(tmp_path_factory.mktemp("phoenix")) as server:
        yield server


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimulatorServer, TaskSet]]:
    tasks = TaskSet.generate(4, seed=8, p_correct=[0.9])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        yield server, tasks


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    sb = await LocalSandboxConfig().build().create()
    try:
        yield sb
    finally:
        await sb.close()


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **extra}


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return dict(span["attributes"])


def solver_with_python(req: ChatRequest) -> Any:
    last = req.messages[-1]
    if last["role"] == "tool":
        return f"It printed {last['content'].strip()}.\nAnswer: 42"
    return {"name": "python", "arguments": {"code": "print(6*7)"}}


async def test_a_graph_runs_spans_arrive_over_http_with_their_tree(
    phoenix: px.Phoenix, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = "graph-run-http"
    for k, v in phoenix.env(project).items():
        monkeypatch.setenv(k, v)
    set_price("function", input=2.0, output=8.0)
    spec = topology("best_of_n", n=2)
    spec = spec.model_copy(
        update={"nodes": [n.model_copy(update={"tools": ["python"]}) for n in spec.nodes]}
    )
    graph = compile(spec, models=FunctionModel(solver_with_python), tools=[PythonTool(sandbox)])
    telemetry.configure()  # the OTEL_* variables: OTLP over HTTP to Phoenix
    try:
        res = await graph.run("What is 6 * 7?", run_id="phoenix-1")
    finally:
        telemetry.shutdown()  # flushes the batch
        reset_prices()
    assert res.answer == "42"

    spans = phoenix.wait_for(project, lambda s: len(s) >= 11)
    sample = ("invoke_agent solver", [
        ("chat function", []),
        ("chat function", []),
        ("execute_tool python", [("sandbox.exec local", [])]),
    ])  # fmt: skip
    assert px.tree(spans) == (f"invoke_workflow {spec.name}", [sample, sample])
    assert len({s["context"]["trace_id"] for s in spans}) == 1

    kinds = {s["name"].split()[0]: s["span_kind"] for s in spans}
    assert kinds == {
        "invoke_workflow": "CHAIN",
        "invoke_agent": "AGENT",
        "chat": "LLM",
        "execute_tool": "TOOL",
        "sandbox.exec": "CHAIN",
    }
    [wf] = [s for s in spans if s["name"].startswith("invoke_workflow")]
    a = attrs(wf)
    totals = res.usage.totals
    assert a["gen_ai.operation.name"] == "invoke_workflow"
    assert a["gen_ai.workflow.name"] == spec.name and a["thinktank.run.id"] == "phoenix-1"
    assert a["gen_ai.usage.input_tokens"] == totals.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == totals.completion_tokens > 0
    assert a["gen_ai.usage.cost"] == pytest.approx(res.cost) and res.cost > 0

    chats = [s for s in spans if s["name"] == "chat function"]
    assert sum(attrs(c)["gen_ai.usage.input_tokens"] for c in chats) == totals.prompt_tokens
    assert sum(attrs(c)["gen_ai.usage.output_tokens"] for c in chats) == totals.completion_tokens
    for c in chats:
        ca = attrs(c)
        assert ca["gen_ai.operation.name"] == "chat" and ca["gen_ai.request.model"] == "function"
        # Phoenix reads the GenAI token counts into its own fields
        assert ca["llm.token_count.prompt"] == ca["gen_ai.usage.input_tokens"]
        assert ca["llm.token_count.completion"] == ca["gen_ai.usage.output_tokens"]
    outputs = {o.id: o for o in res.trace.outputs}
    for ag in (s for s in spans if s["name"] == "invoke_agent solver"):
        aa = attrs(ag)
        out = outputs[aa["gen_ai.agent.id"]]
        assert aa["gen_ai.agent.name"] == "solver"
        assert aa["gen_ai.usage.input_tokens"] == out.usage["prompt_tokens"]
        assert aa["gen_ai.usage.output_tokens"] == out.usage["completion_tokens"]
    for t in (s for s in spans if s["name"] == "execute_tool python"):
        assert attrs(t)["gen_ai.tool.name"] == "python" and t["status_code"] != "ERROR"
    for e in (s for s in spans if s["name"] == "sandbox.exec local"):
        assert attrs(e)["process.exit.code"] == 0
    assert not any("gen_ai.input.messages" in attrs(s) for s in spans)  # not asked for


async def test_spans_arrive_over_grpc_with_content_when_asked(
    phoenix: px.Phoenix, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = "graph-run-grpc"
    for k, v in phoenix.env(project, protocol="grpc").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(telemetry.CAPTURE_CONTENT_ENV, "true")
    graph = compile(topology("single"), models=FunctionModel(lambda r: "Answer: 9"))
    telemetry.configure()
    try:
        res = await graph.run("What is 3 * 3?")
    finally:
        telemetry.shutdown()
    assert res.answer == "9"
    spans = phoenix.wait_for(project, lambda s: len(s) >= 3)
    assert px.tree(spans) == (
        "invoke_workflow single",
        [("invoke_agent solver", [("chat function", [])])],
    )
    [chat] = [s for s in spans if s["name"] == "chat function"]
    assert "What is 3 * 3?" in attrs(chat)["gen_ai.input.messages"]
    assert "Answer: 9" in attrs(chat)["gen_ai.output.messages"]
    [wf] = [s for s in spans if s["name"] == "invoke_workflow single"]
    assert attrs(wf)["input.value"] == "What is 3 * 3?" and attrs(wf)["output.value"] == "9"


def test_each_request_to_thinktank_serve_is_a_trace(
    phoenix: px.Phoenix, sim: tuple[SimulatorServer, TaskSet]
) -> None:
    project = "serve"
    server, tasks = sim
    argv = [
        THINKTANK, "serve", "--graph", "bo2=best_of_n:n=2", "--model",
        f"openai:sim@{server.base_url}", "--port", "0", "--kind", "math",
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**phoenix.env(project)),
    )
    replies = []
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        m = re.match(r"serving bo2 at (http://127\.0\.0\.1:\d+/v1)", lines[1])
        assert m, lines
        client = openai.OpenAI(base_url=m.group(1), api_key="unused", max_retries=0)
        for q in tasks.questions[:2]:
            replies.append(
                client.chat.completions.create(
                    model="bo2", messages=[{"role": "user", "content": q.question}]
                )
            )
    finally:
        proc.send_signal(signal.SIGINT)  # the server flushes its spans as it stops
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"tracing: spans go to OTLP http/protobuf at {phoenix.otlp_http}/v1/traces" in err

    spans = phoenix.wait_for(project, lambda s: len(s) >= 2 * 6)
    roots = [s for s in spans if s["parent_id"] is None]
    assert sorted(attrs(r)["gen_ai.response.id"] for r in roots) == sorted(r.id for r in replies)
    for reply in replies:
        [root] = [r for r in roots if attrs(r)["gen_ai.response.id"] == reply.id]
        trace = [s for s in spans if s["context"]["trace_id"] == root["context"]["trace_id"]]
        assert px.tree(trace) == (
            "chat bo2",
            [("invoke_workflow best_of_2_vote", [
                ("invoke_agent solver", [("chat sim", [])]),
                ("invoke_agent solver", [("chat sim", [])]),
            ])],
        )  # fmt: skip
        ra = attrs(root)
        assert reply.usage is not None
        assert ra["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens > 0
        assert ra["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens > 0
        chats = [s for s in trace if s["name"] == "chat sim"]
        assert sum(attrs(c)["gen_ai.usage.input_tokens"] for c in chats) == (
            reply.usage.prompt_tokens
        )
        assert all(attrs(c)["server.address"] == "127.0.0.1" for c in chats)


@pytest.mark.parametrize(
    "executor", ["local", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.timeout(600)])]
)
def test_each_task_of_thinktank_eval_is_a_trace(
    phoenix: px.Phoenix, sim: tuple[SimulatorServer, TaskSet], tmp_path: Path, executor: str
) -> None:
    # on Ray, the tasks run in worker processes (a private loopback cluster the command
    # starts): each worker traces its tasks with the driver's OTEL_* variables
    if executor == "ray":
        pytest.importorskip("ray", reason="the ray extra is not installed")
    project = f"eval-{executor}"
    server, tasks = sim
    suite = dump_tasks(
        [
            Task(id=q.id, kind="math", prompt=q.question, expected=q.answer)
            for q in tasks.questions[:3]
        ],
        tmp_path / "tasks.jsonl",
    )
    sandbox = tmp_path / "sandbox.yaml"
    sandbox.write_text("type: local\n")
    argv = [
        THINKTANK, "eval", "--suite", str(suite), "--graph", "single", "--model",
        f"openai:sim@{server.base_url}", "--out", str(tmp_path / "run"), "--no-report",
        "--sandbox", str(sandbox), "--executor", executor,
    ]  # fmt: skip
    if executor == "ray":
        argv += ["--ray-opt", "workers=1"]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=540 if executor == "ray" else 300,  # a Ray start is slow on a busy machine
        check=False,
        env=clean_env(**phoenix.env(project)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spans = phoenix.wait_for(project, lambda s: len(s) >= 3 * 4)
    roots = [s for s in spans if s["parent_id"] is None]
    assert sorted(attrs(r)["thinktank.task.id"] for r in roots) == sorted(
        q.id for q in tasks.questions[:3]
    )
    for root in roots:
        trace = [s for s in spans if s["context"]["trace_id"] == root["context"]["trace_id"]]
        assert px.tree(trace) == (
            "eval_task single",
            [("invoke_workflow single", [("invoke_agent solver", [("chat sim", [])])])],
        )
        ra = attrs(root)
        assert ra["thinktank.task.status"] == "ok" and ra["thinktank.graph"] == "single"
        [chat] = [s for s in trace if s["name"] == "chat sim"]
        assert ra["gen_ai.usage.input_tokens"] == attrs(chat)["gen_ai.usage.input_tokens"] > 0
