"""thinktank's ChatModel vs the raw AsyncOpenAI client: 2,000 chat calls at
concurrency 32 against the simulator at zero latency (server in its own process).

The raw client is the SDK's typed ``chat.completions.create`` on the same HTTP client
thinktank gives the SDK (httpx2 over aiohttp), so ``ratio`` = thinktank wall / raw wall
measures thinktank's own overhead (median of repetitions, alternating order; target
<= 1.10); thinktank posts through the SDK's generic ``post`` and reads the JSON itself,
which costs less CPU than the typed call, so the ratio can be below 1.
``vs_default_httpx`` compares with a raw client on httpx2's own transport.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx2
import openai
from _common import emit, parser
from httpx_aiohttp.httpx2 import AiohttpTransport

from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess

CONCURRENCY = 32
MESSAGES = [{"role": "user", "content": "Say ok."}]


async def raw_client(base_url: str, calls: int, *, aiohttp: bool = True) -> float:
    limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    transport = AiohttpTransport(limits=limits) if aiohttp else None
    async with httpx2.AsyncClient(limits=limits, timeout=30, transport=transport) as http:
        client = openai.AsyncOpenAI(api_key="x", base_url=base_url, http_client=http, max_retries=0)
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with sem:
                r = await client.chat.completions.create(
                    model="sim",
                    messages=MESSAGES,  # type: ignore[arg-type]
                    max_tokens=16,
                )
                assert r.choices[0].message.content is not None

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.perf_counter() - t0


async def thinktank_model(base_url: str, calls: int) -> float:
    model = OpenAICompatModel("sim", base_url=base_url, concurrency=CONCURRENCY)
    try:

        async def one() -> None:
            [c] = await model.generate(MESSAGES, max_tokens=16)
            assert c.text is not None

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.perf_counter() - t0
    finally:
        await model.aclose()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    calls = 2000
    reps = 3 if args.quick else 5
    with SimulatorProcess(SimulatorConfig(default_reply="ok")) as sim:
        url = sim.base_url
        asyncio.run(raw_client(url, 200))  # warm both paths
        asyncio.run(thinktank_model(url, 200))
        raw: list[float] = []
        ours: list[float] = []
        for i in range(reps):
            order = [("raw", raw_client), ("tt", thinktank_model)]
            for name, fn in order if i % 2 == 0 else order[::-1]:
                wall = asyncio.run(fn(url, calls))
                (raw if name == "raw" else ours).append(wall)
        default = statistics.median(
            [asyncio.run(raw_client(url, calls, aiohttp=False)) for _ in range(2)]
        )
        requests = sim.stats()["requests"]
    raw_med, ours_med = statistics.median(raw), statistics.median(ours)
    ratio = ours_med / raw_med
    print(
        f"raw AsyncOpenAI: {raw_med:.3f}s  thinktank: {ours_med:.3f}s for {calls} calls (medians of {reps})"
    )
    emit(
        "llm_overhead",
        metric="wall_ratio",
        value=ours_med,
        unit="s",
        baseline=raw_med,
        ratio=ratio,
        target=1.10,
        ok=ratio <= 1.10,
        calls=calls,
        concurrency=CONCURRENCY,
        server_requests=requests,
        per_call_us=round((ours_med - raw_med) / calls * 1e6, 1),
        vs_default_httpx=round(ours_med / default, 4),
    )


if __name__ == "__main__":
    main()
