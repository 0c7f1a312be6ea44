"""n=64 samples at a fixed 300 ms server latency vs one call, on an endpoint that ignores ``n``.

thinktank fans out: one ``generate(n=64)`` becomes 64 concurrent requests. ``ratio`` =
wall(n=64) / wall(one call) on that fan-out path, through the whole client (the openai
SDK over aiohttp, the endpoint's semaphore, retries, a budget admitting and settling
each call, a usage ledger recording it, cost accounting, the telemetry hook): what
fanning out costs when the endpoint cannot batch (most non-OpenAI servers).
Target: <= 1.25; ``ok`` also needs 64 distinct samples.

The endpoint is the simulator in its own process (its default reply, no synthetic
draws) on its lean HTTP server (``SimulatorConfig(http="lean")``, about 0.1 ms of CPU
per request; ``--server full`` for uvicorn + Starlette, about 0.3 ms): the server shares
the client's two cores, which a real endpoint does not, and with the full server its
intake of the 64 requests adds 20-40 ms to the wall the client is judged by. A wall
ratio on a shared 2-core machine still holds more than the client, so the same run
measures, interleaved with thinktank's repetitions on the same server:

* ``bare_ratio``: the same two walls for bare aiohttp (64 concurrent raw POSTs of the
  same body, no SDK, no thinktank): what the server and the machine cost by themselves;
* CPU per request of the client (``client_cpu_ms_per_request``, process time over the
  n=64 call / 64), of the bare client, and of the server (``server_cpu_ms_per_request``,
  its serving thread's CPU time, from ``/stats``);
* where the n=64 wall goes, from the server's arrival and reply times (one clock on the
  host): ``lead_ms`` until the first request reached the server (the client builds all
  64 requests before it writes the first: aiohttp writes from a task of its own, which
  runs after them), ``spread_ms`` from the first to the last (the writes and the
  server's intake), ``hold_ms`` the server's 300 ms for the last one, ``tail_ms`` from
  its reply to ``generate`` returning (the client reading the 64 replies, which come
  back together, and accounting for the call).

The native-``n`` path (one request, 64 choices) is measured too and reported beside it
(``native_ratio``): about 1.0 by construction (the server sleeps once). Load averages are
reported at the start and end: the figures move with what else runs on the machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from _common import emit, parser

from thinktank.llm import Budget, UsageLedger, scope
from thinktank.llm.base import Capabilities
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.pricing import set_price
from thinktank.llm.simulator import Latency, SimulatorConfig, SimulatorProcess

MESSAGES = [{"role": "user", "content": "Pick a number."}]
N = 64
LATENCY_MS = 300
TARGET = 1.25
BODY = {"model": "sim", "messages": MESSAGES, "temperature": 1.0, "max_tokens": 8}


class Side:
    """One client's repetitions: walls of one call and of n=64, CPU, timeline parts."""

    def __init__(self) -> None:
        self.one: list[float] = []
        self.many: list[float] = []
        self.cpu: list[float] = []
        self.server_cpu: list[float] = []
        self.parts: dict[str, list[float]] = {"lead": [], "spread": [], "hold": [], "tail": []}
        self.distinct = N

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))

    @property
    def ratio(self) -> float:
        return self.median("many") / self.median("one")

    def part_ms(self, name: str) -> float:
        return round(statistics.median(self.parts[name]) * 1e3, 1)


async def _control(http: aiohttp.ClientSession, url: str, method: str, path: str) -> Any:
    async with http.request(method, url + path) as resp:
        resp.raise_for_status()
        return await resp.json()


async def repetition(
    side: Side,
    http: aiohttp.ClientSession,
    root: str,
    one: Callable[[], Awaitable[list[str]]],
    many: Callable[[], Awaitable[list[str]]],
) -> None:
    t0 = time.perf_counter()
    assert len(await one()) == 1
    side.one.append(time.perf_counter() - t0)
    await _control(http, root, "POST", "/reset")
    before = await _control(http, root, "GET", "/stats")
    c0, m0, t0 = time.process_time(), time.monotonic(), time.perf_counter()
    texts = await many()
    wall, end, cpu = time.perf_counter() - t0, time.monotonic(), time.process_time() - c0
    after = await _control(http, root, "GET", "/stats")
    assert len(texts) == N and after["requests"] == N, (len(texts), after["requests"])
    side.many.append(wall)
    side.cpu.append(cpu)
    side.server_cpu.append(after["cpu_s"] - before["cpu_s"])
    side.distinct = min(side.distinct, len(set(texts)))
    first, last, reply = after["first_arrival_s"], after["last_arrival_s"], after["last_reply_s"]
    for name, value in (
        ("lead", first - m0),
        ("spread", last - first),
        ("hold", reply - last),
        ("tail", end - reply),
    ):
        side.parts[name].append(value)


async def fan_out(base_url: str, reps: int) -> tuple[Side, Side]:
    """thinktank and bare aiohttp on one server, alternating which goes first."""
    root = base_url.removesuffix("/v1")
    set_price("sim", 0.15, 0.60)  # cost accounting runs as with a priced model
    model = OpenAICompatModel(
        "sim", base_url=base_url, concurrency=N, capabilities=Capabilities(native_n=False)
    )
    ledger, budget = UsageLedger(), Budget(max_usd=1000.0, name="bench")
    tt, bare = Side(), Side()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=N)) as http:

        async def post() -> str:
            async with http.post(base_url + "/chat/completions", json=BODY) as resp:
                resp.raise_for_status()
                data = await resp.json()
            return str(data["choices"][0]["message"]["content"])

        async def bare_one() -> list[str]:
            return [await post()]

        async def bare_many() -> list[str]:
            return list(await asyncio.gather(*(post() for _ in range(N))))

        async def tt_one() -> list[str]:
            return [c.text for c in await model.generate(MESSAGES, temperature=1.0, max_tokens=8)]

        async def tt_many() -> list[str]:
            out = await model.generate(MESSAGES, n=N, temperature=1.0, max_tokens=8)
            return [c.text for c in out]

        try:
            with scope(budget=budget, ledger=ledger, node="fanout"):
                await tt_many()  # warm both pools
                await bare_many()
                sides = [(tt, tt_one, tt_many), (bare, bare_one, bare_many)]
                for i in range(reps):
                    for side, one, many in sides if i % 2 == 0 else sides[::-1]:
                        await repetition(side, http, root, one, many)
        finally:
            await model.aclose()
    assert len(ledger.records) == 1 + 2 * reps, len(ledger.records)  # every call recorded
    assert budget.calls == N * (1 + reps) + reps, budget.calls  # every request charged
    return tt, bare


async def native(base_url: str, reps: int) -> float:
    """wall(n=64) / wall(one call) when the endpoint honours ``n``."""
    model = OpenAICompatModel("sim", base_url=base_url, concurrency=N)
    try:
        await model.generate(MESSAGES, n=N, temperature=1.0, max_tokens=8)
        one, many = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            await model.generate(MESSAGES, temperature=1.0, max_tokens=8)
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert len(await model.generate(MESSAGES, n=N, temperature=1.0, max_tokens=8)) == N
            many.append(time.perf_counter() - t0)
        return statistics.median(many) / statistics.median(one)
    finally:
        await model.aclose()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument(
        "--server",
        choices=("lean", "full"),
        default="lean",
        help="the simulator's HTTP server (default: lean)",
    )
    args = p.parse_args()
    reps = 5 if args.quick else 15
    load_start = os.getloadavg()
    cfg = SimulatorConfig(latency=Latency(ms=LATENCY_MS), native_n=False, http=args.server)
    with SimulatorProcess(cfg) as sim:
        tt, bare = asyncio.run(fan_out(sim.base_url, reps))
    with SimulatorProcess(cfg.model_copy(update={"native_n": True})) as sim:
        native_ratio = asyncio.run(native(sim.base_url, reps))
    load_end = os.getloadavg()
    for label, side in (("thinktank", tt), ("bare aiohttp", bare)):
        print(
            f"{label:12s}: one call {side.median('one') * 1e3:.0f} ms, n={N} "
            f"{side.median('many') * 1e3:.0f} ms, ratio {side.ratio:.3f}; CPU per request: "
            f"client {side.median('cpu') * 1e3 / N:.3f} ms, server "
            f"{side.median('server_cpu') * 1e3 / N:.3f} ms; n={N} wall = lead "
            f"{side.part_ms('lead')} + spread {side.part_ms('spread')} + hold "
            f"{side.part_ms('hold')} + tail {side.part_ms('tail')} ms"
        )
    print(f"native n    : ratio {native_ratio:.3f}")
    print(f"load average: {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end")
    emit(
        "llm_fanout",
        metric="wall_ratio_n64_fanout",
        value=tt.median("many"),
        unit="s",
        baseline=tt.median("one"),
        ratio=tt.ratio,
        target=TARGET,
        ok=tt.ratio <= TARGET and tt.distinct == N,
        distinct_samples=tt.distinct,
        bare_ratio=round(bare.ratio, 4),
        bare_value=round(bare.median("many"), 4),
        client_cpu_ms_per_request=round(tt.median("cpu") * 1e3 / N, 3),
        bare_client_cpu_ms_per_request=round(bare.median("cpu") * 1e3 / N, 3),
        server_cpu_ms_per_request=round(tt.median("server_cpu") * 1e3 / N, 3),
        lead_ms=tt.part_ms("lead"),
        spread_ms=tt.part_ms("spread"),
        hold_ms=tt.part_ms("hold"),
        tail_ms=tt.part_ms("tail"),
        bare_spread_ms=bare.part_ms("spread"),
        bare_tail_ms=bare.part_ms("tail"),
        native_ratio=round(native_ratio, 4),
        native_ok=native_ratio <= TARGET,
        server=args.server,
        load_avg_start=round(load_start[0], 2),
        load_avg_end=round(load_end[0], 2),
        repetitions=reps,
    )


if __name__ == "__main__":
    main()
