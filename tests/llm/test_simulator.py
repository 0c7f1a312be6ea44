"""The simulator over real loopback HTTP: scripts, tool calls, n, latency, faults, streams.

Synthetic task mode is tested in ``test_simulator_synthetic.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from thinktank.llm.simulator import Latency, SimulatorConfig, SimulatorProcess, SimulatorServer

Sim = Callable[..., SimulatorServer]
USER = [{"role": "user", "content": "hello simulator"}]


@pytest.fixture(params=["full", "lean"])
def simulator(request: pytest.FixtureRequest, simulator: Sim) -> Sim:
    """Every test here runs on both HTTP servers: the lean one must answer as the full one."""

    def make(config: SimulatorConfig | None = None, **fields: Any) -> SimulatorServer:
        cfg = config or SimulatorConfig.model_validate(fields)
        return simulator(cfg.model_copy(update={"http": request.param}))

    return make


async def test_scripted_replies_in_order(simulator: Sim, openai_client) -> None:
    sim = simulator(script=["one", {"content": "two"}])
    client = openai_client(sim)
    a = await client.chat.completions.create(model="sim", messages=USER)
    b = await client.chat.completions.create(model="sim", messages=USER)
    assert [a.choices[0].message.content, b.choices[0].message.content] == ["one", "two"]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="sim", messages=USER)
    assert info.value.code == "script_exhausted"
    assert "2 replies were scripted" in str(info.value)
    assert sim.stats()["script_consumed"] == 2


async def test_script_fallback_and_runtime_replacement(simulator: Sim, openai_client) -> None:
    sim = simulator(script=["scripted"], script_exhausted="fallback", default_reply="default")
    client = openai_client(sim)
    texts = [
        (await client.chat.completions.create(model="sim", messages=USER))
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    assert texts == ["scripted", "default"]
    sim.set_script(["fresh"])
    r = await client.chat.completions.create(model="sim", messages=USER)
    assert r.choices[0].message.content == "fresh"


async def test_scripted_tool_calls_in_openai_format(simulator: Sim, openai_client) -> None:
    wire = {"id": "call_x", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}
    sim = simulator(
        script=[
            {"tool_calls": [{"name": "python", "arguments": {"code": "print(1)"}}, wire]},
            {"content": "done", "finish_reason": "stop"},
        ]
    )
    client = openai_client(sim)
    tools = [{"type": "function", "function": {"name": "python", "parameters": {"type": "object"}}}]
    r = await client.chat.completions.create(model="sim", messages=USER, tools=tools)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["python", "fetch"]
    assert json.loads(calls[0].function.arguments) == {"code": "print(1)"}
    assert calls[1].id == "call_x" and calls[0].id.startswith("call_")
    followup = [*USER, choice.message.model_dump(exclude_none=True)]
    followup.append({"role": "tool", "tool_call_id": calls[0].id, "content": "1"})
    r2 = await client.chat.completions.create(model="sim", messages=followup, tools=tools)
    assert r2.choices[0].message.content == "done"


async def test_native_n_and_usage(simulator: Sim, openai_client) -> None:
    sim = simulator()
    client = openai_client(sim)
    r = await client.chat.completions.create(model="sim", messages=USER, n=5, temperature=1.0)
    texts = [c.message.content for c in r.choices]
    assert len(texts) == 5 and len(set(texts)) == 5
    assert [c.index for c in r.choices] == list(range(5))
    assert r.usage.prompt_tokens > 0
    assert r.usage.completion_tokens == sum((len(t) + 3) // 4 for t in texts)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


async def test_native_n_disabled_returns_one_choice(simulator: Sim, openai_client) -> None:
    sim = simulator(native_n=False)
    r = await openai_client(sim).chat.completions.create(model="sim", messages=USER, n=4)
    assert len(r.choices) == 1


async def test_max_tokens_and_stop(simulator: Sim, openai_client) -> None:
    sim = simulator(default_reply="alpha beta gamma delta " * 10)
    client = openai_client(sim)
    r = await client.chat.completions.create(model="sim", messages=USER, max_tokens=5)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5
    r = await client.chat.completions.create(model="sim", messages=USER, stop=["gamma"])
    assert r.choices[0].message.content == "alpha beta "


async def test_fixed_latency_and_per_request_override(
    simulator: Sim, http: httpx.AsyncClient
) -> None:
    sim = simulator(latency=500)
    url = sim.base_url + "/chat/completions"
    t0 = time.perf_counter()
    await asyncio.gather(*(http.post(url, json={"messages": USER}) for _ in range(8)))
    elapsed = time.perf_counter() - t0
    # concurrent requests sleep concurrently: one after another would take 4 s
    assert 0.5 <= elapsed < 2.5
    t0 = time.perf_counter()
    await http.post(url, json={"messages": USER}, headers={"x-sim-latency-ms": "0"})
    assert time.perf_counter() - t0 < 0.45  # the override, not the 500 ms default


def test_latency_distributions() -> None:
    import random

    rng = random.Random(0)
    uni = [Latency(dist="uniform", ms=100, spread_ms=50).sample_s(rng) for _ in range(2000)]
    assert 0.05 <= min(uni) and max(uni) <= 0.15
    assert abs(sum(uni) / len(uni) - 0.1) < 0.005
    exp = [Latency(dist="exponential", ms=20).sample_s(rng) for _ in range(4000)]
    assert abs(sum(exp) / len(exp) - 0.02) < 0.002
    logn = sorted(
        Latency(dist="lognormal", ms=50, sigma=0.5, max_ms=400).sample_s(rng) for _ in range(2001)
    )
    assert abs(logn[1000] - 0.05) < 0.006 and max(logn) <= 0.4
    assert Latency.model_validate(30).ms == 30


# --- faults -------------------------------------------------------------------------


async def test_rate_limit_headers(simulator: Sim, http: httpx.AsyncClient, openai_client) -> None:
    sim = simulator(faults={"script": ["rate_limit"], "retry_after_s": 0.25})
    r = await http.post(sim.base_url + "/chat/completions", json={"messages": USER})
    assert r.status_code == 429
    assert r.headers["retry-after-ms"] == "250" and r.headers["retry-after"] == "0.25"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError):
        await openai_client(sim).chat.completions.create(
            model="sim", messages=USER, extra_headers={"x-sim-fault": "rate_limit"}
        )


@pytest.mark.parametrize(
    ("kind", "status", "exc", "code"),
    [
        ("server_error", 500, openai.InternalServerError, None),
        ("unavailable", 503, openai.InternalServerError, None),
        ("context_length", 400, openai.BadRequestError, "context_length_exceeded"),
        ("auth", 401, openai.AuthenticationError, "invalid_api_key"),
    ],
)
async def test_error_status_faults(simulator: Sim, openai_client, kind, status, exc, code) -> None:
    sim = simulator(faults={"script": [kind]})
    with pytest.raises(exc) as info:
        await openai_client(sim).chat.completions.create(model="sim", messages=USER)
    assert info.value.status_code == status and info.value.code == code
    assert sim.stats()["faults"] == {kind: 1}


async def test_context_window_and_api_key(simulator: Sim, openai_client) -> None:
    sim = simulator(models={"tiny": {"context_window": 50}}, api_key="sk-right")
    good = openai_client(sim, api_key="sk-right")
    await good.chat.completions.create(model="tiny", messages=USER, max_tokens=10)
    with pytest.raises(openai.BadRequestError) as info:
        await good.chat.completions.create(model="tiny", messages=USER, max_tokens=100)
    assert info.value.code == "context_length_exceeded"
    assert "maximum context length is 50 tokens" in str(info.value)
    with pytest.raises(openai.AuthenticationError):
        await openai_client(sim, api_key="sk-wrong").chat.completions.create(
            model="tiny", messages=USER
        )


async def test_timeout_hangs_past_the_client_timeout(simulator: Sim, openai_client) -> None:
    sim = simulator(faults={"script": ["timeout"], "hang_s": 30})
    client = openai_client(sim, timeout=0.3)
    t0 = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="sim", messages=USER)
    assert time.perf_counter() - t0 < 10  # the 0.3 s client timeout, not the 30 s hang
    r = await client.chat.completions.create(model="sim", messages=USER)
    assert r.choices[0].message.content
    t0 = time.perf_counter()
    sim.stop()  # the hung request must not hold up shutdown
    assert time.perf_counter() - t0 < 15


async def test_malformed_json_body(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(faults={"script": ["malformed"]})
    r = await http.post(sim.base_url + "/chat/completions", json={"messages": USER})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert r.text.startswith('{"id": "chatcmpl-sim1"')


async def test_truncated_body_cuts_the_connection(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(faults={"script": ["truncated"]})
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(sim.base_url + "/chat/completions", json={"messages": USER})
    ok = await http.post(sim.base_url + "/chat/completions", json={"messages": USER})
    assert ok.status_code == 200


async def test_fault_rates_are_seeded(simulator: Sim, http: httpx.AsyncClient) -> None:
    async def run_codes(sim: SimulatorServer) -> list[int]:
        url = sim.base_url + "/chat/completions"
        return [(await http.post(url, json={"messages": USER})).status_code for _ in range(300)]

    cfg = SimulatorConfig(seed=3, faults={"server_error": 0.2, "rate_limit": 0.1})
    codes = await run_codes(simulator(cfg))
    assert abs(codes.count(500) / 300 - 0.2) < 0.07
    assert abs(codes.count(429) / 300 - 0.1) < 0.05
    assert await run_codes(simulator(cfg)) == codes


async def test_unknown_fault_header_and_bad_requests(
    simulator: Sim, http: httpx.AsyncClient
) -> None:
    sim = simulator(unknown_models="reject")
    url = sim.base_url + "/chat/completions"
    r = await http.post(url, json={"messages": USER}, headers={"x-sim-fault": "nope"})
    assert r.status_code == 400 and "rate_limit" in r.json()["error"]["message"]
    assert (await http.post(url, content=b"{not json")).status_code == 400
    assert (await http.post(url, json={"model": "sim"})).status_code == 400
    assert (await http.post(url, json={"messages": USER, "n": 0})).status_code == 400
    r = await http.post(url, json={"model": "gpt-9", "messages": USER})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


# --- streaming ----------------------------------------------------------------------


async def test_stream_matches_non_stream(simulator: Sim, openai_client) -> None:
    sim = simulator()
    client = openai_client(sim)
    kw = {"model": "sim", "messages": USER, "seed": 7, "n": 2}
    full = await client.chat.completions.create(**kw)
    stream = await client.chat.completions.create(
        **kw, stream=True, stream_options={"include_usage": True}
    )
    parts: dict[int, str] = {0: "", 1: ""}
    finish, usage = {}, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            parts[ch.index] += ch.delta.content or ""
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    assert [parts[0], parts[1]] == [c.message.content for c in full.choices]
    assert finish == {0: "stop", 1: "stop"}
    assert usage is not None and usage.total_tokens == full.usage.total_tokens


async def test_stream_tool_calls(simulator: Sim, openai_client) -> None:
    sim = simulator(
        script=[{"tool_calls": [{"name": "bash", "arguments": {"cmd": "ls -la /tmp"}}]}]
    )
    stream = await openai_client(sim).chat.completions.create(
        model="sim", messages=USER, stream=True
    )
    name, args = "", ""
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or []:
                name += tc.function.name or ""
                args += tc.function.arguments or ""
    assert name == "bash" and json.loads(args) == {"cmd": "ls -la /tmp"}


async def test_stream_truncated_and_malformed(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(faults={"script": ["truncated", "malformed"]}, default_reply="x" * 400)
    body = {"messages": USER, "stream": True}
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", sim.base_url + "/chat/completions", json=body) as r:
            async for line in r.aiter_lines():
                lines.append(line)
    data = [ln for ln in lines if ln.startswith("data: ")]
    assert data and "data: [DONE]" not in data
    assert all(json.loads(ln[6:])["choices"][0]["finish_reason"] is None for ln in data)
    r = await http.post(sim.base_url + "/chat/completions", json=body)
    events = [ln[6:] for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert events[-1] == "[DONE]"
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1])


async def test_stream_per_token_latency(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(latency={"per_token_ms": 2}, default_reply="y" * 400)  # 100 tokens
    t0 = time.perf_counter()
    r = await http.post(sim.base_url + "/chat/completions", json={"messages": USER, "stream": True})
    assert r.status_code == 200 and time.perf_counter() - t0 >= 0.18


# --- concurrency, admin endpoints, runners ------------------------------------------


async def test_concurrency_is_observed_and_capped(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(latency=100, max_concurrency=3)
    url = sim.base_url + "/chat/completions"
    t0 = time.perf_counter()
    await asyncio.gather(*(http.post(url, json={"messages": USER}) for _ in range(9)))
    stats = sim.stats()
    assert stats["max_in_flight"] == 9 and stats["max_active"] == 3
    assert time.perf_counter() - t0 >= 0.3  # three waves of 100 ms

    rejecting = simulator(latency=100, max_concurrency=2, over_capacity="reject")
    codes = [
        r.status_code
        for r in await asyncio.gather(
            *(
                http.post(rejecting.base_url + "/chat/completions", json={"messages": USER})
                for _ in range(6)
            )
        )
    ]
    assert codes.count(200) == 2 and codes.count(429) == 4


async def test_models_health_stats_reset(simulator: Sim, http: httpx.AsyncClient) -> None:
    sim = simulator(models={"a": {}, "b": {}})
    ids = [m["id"] for m in (await http.get(sim.base_url + "/models")).json()["data"]]
    assert ids == ["a", "b"]
    assert (await http.get(sim.url + "/health")).json() == {"status": "ok"}
    for model in ("a", "a", "b", "other"):
        await http.post(sim.base_url + "/chat/completions", json={"model": model, "messages": USER})
    stats = sim.stats()
    assert stats["requests"] == 4 and stats["per_model"] == {"a": 2, "b": 1, "other": 1}
    # arrival and reply times on this host's monotonic clock, the serving thread's CPU
    assert stats["first_arrival_s"] < stats["last_arrival_s"] <= stats["last_reply_s"]
    assert stats["last_reply_s"] <= time.monotonic() and stats["cpu_s"] > 0
    sim.reset()
    stats = sim.stats()
    assert stats["requests"] == 0 and stats["first_arrival_s"] is None


async def test_subprocess_runner(openai_client) -> None:
    with SimulatorProcess(SimulatorConfig(script=["from the child"])) as sim:
        assert sim.proc is not None and sim.proc.pid
        r = await openai_client(sim).chat.completions.create(model="sim", messages=USER)
        assert r.choices[0].message.content == "from the child"
        assert sim.stats()["requests"] == 1
    assert sim.proc is None


async def test_subprocess_runner_with_the_lean_server(openai_client) -> None:
    cfg = SimulatorConfig(script=["lean child"], http="lean")
    with SimulatorProcess(cfg) as sim:
        proc = sim.proc
        assert proc is not None
        r = await openai_client(sim).chat.completions.create(model="sim", messages=USER)
        assert r.choices[0].message.content == "lean child"
        stats = sim.stats()
        assert stats["requests"] == 1 and stats["last_reply_s"] >= stats["first_arrival_s"]
    assert proc.returncode == 0  # SIGTERM ends it cleanly


def test_subprocess_reports_startup_failure(tmp_path) -> None:
    cfg = SimulatorConfig(synthetic={"task_file": str(tmp_path / "missing.yaml")})
    with pytest.raises(RuntimeError, match=r"missing\.yaml"):
        SimulatorProcess(cfg, startup_timeout=20).start()


def test_cli_simulate(tmp_path) -> None:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("script: ['cli reply']\n")
    exe = [sys.executable, "-c", "from thinktank.cli.app import main; main()"]
    proc = subprocess.Popen(
        [*exe, "models", "simulate", "--port", "0", "--config", str(cfg), "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        r = httpx.post(m.group(1) + "/chat/completions", json={"messages": USER}, trust_env=False)
        assert r.json()["choices"][0]["message"]["content"] == "cli reply"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_chat_model_handle(simulator: Sim) -> None:
    sim = simulator(script=["a", "b", "c"])
    async with sim.model("sim-large") as model:
        out = await model.generate([{"role": "user", "content": "hi"}], n=3)
    assert [c.text for c in out] == ["a", "b", "c"]
    assert sim.stats()["per_model"] == {"sim-large": 1}


async def test_scripted_faults_interleave_with_replies(simulator: Sim, openai_client) -> None:
    sim = simulator(
        script=[{"fault": "unavailable"}, "after retry", {"fault": "timeout"}],
        faults={"hang_s": 0.2},
        default_reply="default",
    )
    client = openai_client(sim)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="sim", messages=USER)
    r = await client.chat.completions.create(model="sim", messages=USER)
    assert r.choices[0].message.content == "after retry"
    t0 = time.perf_counter()
    r = await client.chat.completions.create(model="sim", messages=USER)
    assert r.choices[0].message.content == "default" and time.perf_counter() - t0 >= 0.2
