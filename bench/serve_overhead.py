"""Serving overhead: a best-of-8 graph through ``thinktank serve`` vs. the same graph
in-process, 500 requests at concurrency 32 on the simulator.

Three processes: the simulator (synthetic task model, a fixed ``--latency-ms`` per
call, 100 ms by default), ``thinktank serve --graph bo8=best_of_n:n=8`` started as a
user would (its own process, ``--max-concurrency 32``), and this one. The two sides
use the same model config (``openai:sim@URL``, 256 calls in flight, so the model's
limit never queues the 8 × 32 calls in flight: each request waits one call's latency,
and the server's own cost shows as much as it can):

* ``inprocess`` — ``compile(best_of_n(8))`` here, ``graph.run`` on each question,
  32 at a time;
* ``served`` — an HTTP client posting each question to the server (32 at a time),
  which runs the same graph: httpx on the aiohttp transport (what thinktank's own
  model client uses), or with ``--client openai`` the ``openai`` SDK's
  ``AsyncOpenAI``, which spends about 3 ms of CPU per request of its own (on these
  2 cores, beside the server and the simulator, that shows in the wall).

Both sides send the same questions with the same seeds, so they make the same calls
and get the same answers (checked: ``same_answers``, ``same_tokens``). Wall clock per
side, repetitions in alternating order, median. ``ratio`` = served wall / in-process
wall; ``ok`` when ≤ 1.15 (and the answers and tokens agree). ``ratio_best`` compares
each side's fastest repetition (steadier on a busy machine). ``--quick``: 160 requests
× 2 repetitions.

On a 2-core machine both sides are CPU-bound (the graph's client work per sample, not
the 100 ms, sets the pace), so ``cpu_s`` reports each process's CPU seconds per side
(``/proc``): the server's against this process's in-process run is what serving costs
in CPU. The server runs as ``thinktank serve`` does, start-up objects frozen out of the
garbage collector's full scans (``gc.freeze``) and a collection every 10,000 new objects
(``--gc-threshold``); the in-process side keeps the interpreter's collector settings.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml
from _common import emit, parser
from httpx_aiohttp import AiohttpTransport

from thinktank.graphs import compile
from thinktank.graphs.topologies import best_of_n
from thinktank.llm.config import load_model
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess, SyntheticConfig, TaskSet

N_SAMPLES = 8
CONCURRENCY = 32
MODEL_CONCURRENCY = 256
TARGET = 1.15

Outcome = tuple[float, list[tuple[str | None, int]]]
"""Wall seconds, and per request (answer, total tokens)."""


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(
    model_file: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``thinktank serve`` in its own process (``env``: its environment, default this
    one's); returns it and its base URL."""
    exe = Path(sys.executable).with_name("thinktank")
    argv = [
        str(exe), "serve", "--graph", f"bo8=best_of_n:n={N_SAMPLES}", "--model", str(model_file),
        "--port", "0", "--kind", "math", "--max-concurrency", str(CONCURRENCY),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r" at (http://\S+/v1)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("thinktank serve did not start")


async def inprocess(graph: Any, prompts: list[str], seeds: list[int]) -> Outcome:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(prompt: str, seed: int) -> tuple[str | None, int]:
        async with sem:
            res = await graph.run({"prompt": prompt, "kind": "math"}, seed=seed)
            assert res.status == "ok", res.error
            return res.answer, res.usage.totals.total_tokens

    t0 = time.perf_counter()
    out = await asyncio.gather(*(one(p, s) for p, s in zip(prompts, seeds, strict=True)))
    return time.perf_counter() - t0, list(out)


async def served(client: Any, prompts: list[str], seeds: list[int]) -> Outcome:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(prompt: str, seed: int) -> tuple[str | None, int]:
        messages = [{"role": "user", "content": prompt}]
        async with sem:
            if isinstance(client, openai.AsyncOpenAI):
                r = await client.chat.completions.create(model="bo8", messages=messages, seed=seed)  # type: ignore[arg-type]
                assert r.usage is not None and (r.model_extra or {})["thinktank"]["status"] == "ok"
                return r.choices[0].message.content, r.usage.total_tokens
            resp = await client.post(
                "/chat/completions", json={"model": "bo8", "messages": messages, "seed": seed}
            )
            data = resp.json()
            assert resp.status_code == 200 and data["thinktank"]["status"] == "ok", data
            return data["choices"][0]["message"]["content"], data["usage"]["total_tokens"]

    t0 = time.perf_counter()
    out = await asyncio.gather(*(one(p, s) for p, s in zip(prompts, seeds, strict=True)))
    return time.perf_counter() - t0, list(out)


def http_client(base_url: str, kind: str) -> Any:
    """The served side's client: httpx on aiohttp, or the openai SDK."""
    if kind == "openai":
        return openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=120)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=120, transport=AiohttpTransport(limits=limits)
    )


async def measure(
    pids: dict[str, int], base_url: str, model: Any, n: int, reps: int, client_kind: str
) -> dict[str, Any]:
    tasks = TaskSet.generate(64, seed=17)
    prompts = [tasks.questions[i % 64].question for i in range(n)]
    seeds = list(range(n))
    graph = compile(best_of_n(N_SAMPLES), models=model)
    client = http_client(base_url, client_kind)
    sides = {
        "inprocess": lambda p, s: inprocess(graph, p, s),
        "served": lambda p, s: served(client, p, s),
    }
    walls: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, dict[str, float]] = {k: dict.fromkeys(pids, 0.0) for k in sides}
    results: dict[str, list[tuple[str | None, int]]] = {}
    try:
        for run in sides.values():  # warm connections, imports and caches
            await run(prompts[:CONCURRENCY], seeds[:CONCURRENCY])
        names = list(sides)
        for i in range(reps):
            for name in names[i % 2 :] + names[: i % 2]:
                before = {k: cpu_s(pid) for k, pid in pids.items()}
                wall, out = await sides[name](prompts, seeds)
                walls[name].append(wall)
                for k, pid in pids.items():
                    cpu[name][k] += (cpu_s(pid) - before[k]) / reps
                results[name] = out
    finally:
        await (client.close() if isinstance(client, openai.AsyncOpenAI) else client.aclose())
        await model.aclose()
    same_answers = [a for a, _ in results["served"]] == [a for a, _ in results["inprocess"]]
    same_tokens = [t for _, t in results["served"]] == [t for _, t in results["inprocess"]]
    return {"walls": walls, "cpu": cpu, "same_answers": same_answers, "same_tokens": same_tokens}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=None)
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--client", choices=["httpx", "openai"], default="httpx")
    args = p.parse_args()
    n = args.requests or (160 if args.quick else 500)
    reps = args.reps or (2 if args.quick else 3)
    cfg = SimulatorConfig(
        latency=args.latency_ms, synthetic=SyntheticConfig(tasks=TaskSet.generate(64, seed=17))
    )
    with SimulatorProcess(cfg) as sim, tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "model.yaml"
        spec = {"type": "openai", "model": "sim", "base_url": sim.base_url}
        model_file.write_text(yaml.safe_dump({**spec, "concurrency": MODEL_CONCURRENCY}))
        proc, base_url = start_server(model_file)
        try:
            model = load_model(str(model_file))
            assert sim.proc is not None
            pids = {"bench": os.getpid(), "simulator": sim.proc.pid, "server": proc.pid}
            got = asyncio.run(measure(pids, base_url, model, n, reps, args.client))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    walls = got["walls"]
    med = {k: statistics.median(v) for k, v in walls.items()}
    ratio = med["served"] / med["inprocess"]
    floor = n / CONCURRENCY * args.latency_ms / 1000
    print(
        f"{n} requests x best-of-{N_SAMPLES}, concurrency {CONCURRENCY}, {args.latency_ms:g} ms "
        f"per call (latency floor {floor:.2f} s), {reps} reps, client {args.client}"
    )
    for k, v in walls.items():
        cpu = ", ".join(f"{p} {c:.2f}" for p, c in got["cpu"][k].items())
        print(
            f"  {k:9s} median {med[k]:6.2f} s  ({', '.join(f'{w:.2f}' for w in v)}); CPU s: {cpu}"
        )
    best = min(walls["served"]) / min(walls["inprocess"])
    print(f"  served / in-process = {ratio:.3f} (target <= {TARGET}); fastest reps: {best:.3f}")
    print(f"  same answers: {got['same_answers']}, same tokens: {got['same_tokens']}")
    emit(
        "serve_overhead",
        metric=f"wall of {n} best-of-{N_SAMPLES} requests through thinktank serve vs in-process",
        value=med["served"],
        unit="s",
        baseline=med["inprocess"],
        ratio=ratio,
        target=TARGET,
        ok=ratio <= TARGET and got["same_answers"] and got["same_tokens"],
        requests=n,
        reps=reps,
        latency_ms=args.latency_ms,
        concurrency=CONCURRENCY,
        client=args.client,
        ratio_best=round(best, 4),
        same_answers=got["same_answers"],
        same_tokens=got["same_tokens"],
        cpu_s={k: {p: round(c, 2) for p, c in v.items()} for k, v in got["cpu"].items()},
    )


if __name__ == "__main__":
    main()
