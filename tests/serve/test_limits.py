"""Concurrency limits, the queue, keep-alive streaming, failed graphs and clients that
leave, on slow or failing simulators of their own."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from thinktank.llm.simulator import (
    Faults,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)
from thinktank.serve import GraphRegistry, ServeConfig, ServeServer

TASKS = TaskSet.generate(2, seed=9, p_correct=[0.9])
QUESTION = TASKS.questions[0].question
BODY = {"model": "single", "messages": [{"role": "user", "content": QUESTION}]}


def _sim(latency_ms: float, **cfg: Any) -> SimulatorServer:
    return SimulatorServer(
        SimulatorConfig(latency=latency_ms, synthetic=SyntheticConfig(tasks=TASKS), **cfg)
    )


def _server(sim: SimulatorServer, **cfg: Any) -> ServeServer:
    graphs = {"single": "single", "bo4": "best_of_n:n=4"}
    registry = GraphRegistry.build(graphs, models=f"openai:sim@{sim.base_url}")
    return ServeServer(registry, ServeConfig(port=0, **cfg))


@pytest.fixture(scope="module")
def slow() -> Iterator[SimulatorServer]:
    with _sim(300) as sim:
        yield sim


async def test_runs_beyond_the_limit_queue_and_beyond_the_queue_get_429(
    slow: SimulatorServer,
) -> None:
    with _server(slow, max_concurrency=2, max_queue=1) as server:
        slow.reset()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            replies = await asyncio.gather(
                *(http.post("/chat/completions", json=BODY) for _ in range(5))
            )
        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 200, 200, 429, 429], codes
        refused = next(r for r in replies if r.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert refused.headers["retry-after"] == "1"
        assert slow.stats()["max_active"] == 2  # never more than 2 runs' calls at once


def _closes_idle(server: ServeServer, within_s: float) -> bool:
    """Whether the server closes a keep-alive connection left idle after one request
    within ``within_s`` seconds."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=within_s) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}"):
            reply += conn.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert b"connection: close" not in reply.lower()
        try:
            assert conn.recv(1) == b""
        except TimeoutError:
            return False
        return True


def test_idle_connections_outlive_client_pools(slow: SimulatorServer) -> None:
    # clients drop pooled connections first (httpx and openai after 5 s, aiohttp 15 s):
    # a server closing first races their next request ("Server disconnected")
    assert ServeConfig().idle_timeout_s > 15
    with _server(slow) as server:
        assert server._thread is not None
        assert server._thread.server.config.timeout_keep_alive == ServeConfig().idle_timeout_s
        assert not _closes_idle(server, within_s=6.0)  # open past httpx's pool
    with _server(slow, idle_timeout_s=1) as server:
        assert _closes_idle(server, within_s=20.0)  # the option is what the server applies


def test_a_stream_sends_keepalives_while_the_graph_runs(slow: SimulatorServer) -> None:
    with _server(slow, keepalive_s=0.05) as server:
        body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in resp.iter_lines() if line]
        assert lines[0].startswith("data: ")
        assert json.loads(lines[0][6:])["choices"][0]["delta"]["role"] == "assistant"
        assert ": keep-alive" in lines[1:-4]
        assert lines[-1] == "data: [DONE]"
        usage = json.loads(lines[-2][6:])["usage"]
        assert usage["total_tokens"] > 0
        # the openai SDK skips the comments
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        chunks = list(
            client.chat.completions.create(model="single", messages=BODY["messages"], stream=True)
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_client_that_leaves_cancels_its_run() -> None:
    with _sim(3000) as sim, _server(sim) as server:
        body = {**BODY, "model": "bo4"}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=0.2)
        t0 = time.monotonic()
        while httpx.get(f"{server.url}/health").json()["running"]:
            assert time.monotonic() - t0 < 1.0, "the run outlived its client"
            time.sleep(0.01)
        assert sim.stats()["requests"] == 4  # its four calls were sent, then dropped


def test_a_stream_whose_client_leaves_cancels_its_run() -> None:
    with _sim(3000) as sim, _server(sim, keepalive_s=0.05) as server:
        body = {**BODY, "stream": True}
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body) as resp:
            first = next(line for line in resp.iter_lines() if line)
            assert '"role": "assistant"' in first  # the stream is open, the graph running
        t0 = time.monotonic()
        while httpx.get(f"{server.url}/health").json()["running"]:
            assert time.monotonic() - t0 < 1.0, "the run outlived its client"
            time.sleep(0.01)


@pytest.fixture(scope="module")
def failing() -> Iterator[SimulatorServer]:
    """Every call is refused (401, not retried) after 100 ms: graphs end in error."""
    with _sim(100, faults=Faults(auth=1.0)) as sim:
        yield sim


def test_a_graph_that_fails_is_502_with_its_error_and_trace(failing: SimulatorServer) -> None:
    with _server(failing) as server:
        resp = httpx.post(f"{server.base_url}/chat/completions", json=BODY)
        assert resp.status_code == 502
        err = resp.json()["error"]
        assert err["type"] == "server_error" and err["code"] == "graph_failed"
        assert "ended error without an answer" in err["message"]
        rid = err["message"].rsplit("/v1/thinktank/runs/", 1)[1]
        run = httpx.get(f"{server.base_url}/thinktank/runs/{rid}").json()["result"]
        assert run["status"] == "error" and run["answer"] is None
        # a stream still held back gets the same status
        streamed = httpx.post(f"{server.base_url}/chat/completions", json={**BODY, "stream": True})
        assert streamed.status_code == 502


def test_a_graph_that_fails_mid_stream_sends_the_error_event(failing: SimulatorServer) -> None:
    with _server(failing, keepalive_s=0.02) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        stream = client.chat.completions.create(
            model="single", messages=BODY["messages"], stream=True
        )
        with pytest.raises(openai.APIError) as exc:
            list(stream)
        assert "ended error without an answer" in exc.value.message
        assert exc.value.code == "graph_failed"
