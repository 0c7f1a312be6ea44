"""Served runs are kept: in memory (bounded) or in a SQLite file that outlives the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from thinktank.graphs.result import RunResult
from thinktank.llm.simulator import SimulatorServer, TaskSet
from thinktank.serve import GraphRegistry, MemoryTraceStore, ServeConfig, ServeServer, StoredRun
from thinktank.serve.sqlite_store import SQLiteTraceStore


def _run(i: int) -> StoredRun:
    result = RunResult(task_id=f"t{i}", answer=str(i), status="ok")
    return StoredRun(id=f"chatcmpl-{i}", created=i, model="g", seed=i, result=result)


async def test_the_memory_store_keeps_the_newest_runs() -> None:
    store = MemoryTraceStore(keep=3)
    for i in range(5):
        await store.put(_run(i))
    assert len(store) == 3
    assert await store.get("chatcmpl-1") is None
    got = await store.get("chatcmpl-4")
    assert got is not None and got.result.answer == "4"
    unbounded = MemoryTraceStore(keep=0)
    for i in range(5):
        await unbounded.put(_run(i))
    assert len(unbounded) == 5


async def test_the_sqlite_store_keeps_the_newest_runs_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    store = SQLiteTraceStore(path, keep=3)
    for i in range(5):
        await store.put(_run(i))
    await store.aclose()
    again = SQLiteTraceStore(path, keep=3)
    assert await again.get("chatcmpl-0") is None
    got = await again.get("chatcmpl-3")
    assert got is not None and got == _run(3)
    await again.aclose()


def test_a_server_with_a_store_file_serves_runs_after_a_restart(
    tmp_path: Path, sim: tuple[SimulatorServer, TaskSet]
) -> None:
    server, tasks = sim
    cfg = ServeConfig(port=0, store=str(tmp_path / "runs.sqlite"))
    body: dict[str, Any] = {
        "model": "single",
        "messages": [{"role": "user", "content": tasks.questions[0].question}],
    }

    def registry() -> GraphRegistry:
        return GraphRegistry.build(["single"], models=f"openai:sim@{server.base_url}")

    with ServeServer(registry(), cfg) as first:
        reply = httpx.post(f"{first.base_url}/chat/completions", json=body).json()
    with ServeServer(registry(), cfg) as second:
        run = httpx.get(f"{second.base_url}/thinktank/runs/{reply['id']}").json()
    assert run["id"] == reply["id"] and run["model"] == "single"
    assert run["result"]["answer"] == reply["choices"][0]["message"]["content"]
    assert run["result"]["usage"]["tokens"] == reply["usage"]["total_tokens"]
