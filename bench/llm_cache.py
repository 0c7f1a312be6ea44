"""1,000 cached calls replayed: p50 hit latency and network requests made.

The cache is filled against the simulator, then replayed in ``replay`` mode with
a model pointed at the same server; the server's request counter proves that the
replay sent nothing. Baseline: the p50 of the same calls sent to the simulator at
zero latency. Target: p50 < 2 ms and zero requests.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from _common import emit, parser, percentile

from thinktank.llm.cache import ResponseCache
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess


async def timed_calls(model: OpenAICompatModel, n: int) -> list[float]:
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        await model.generate(
            [{"role": "user", "content": f"question {i}"}], temperature=0.7, max_tokens=16
        )
        lat.append((time.perf_counter() - t0) * 1e3)
    return lat


def main() -> None:
    parser(__doc__ or "").parse_args()
    n = 1000
    with tempfile.TemporaryDirectory() as tmp, SimulatorProcess(SimulatorConfig()) as sim:
        path = Path(tmp) / "cache.sqlite"
        fill = OpenAICompatModel("sim", base_url=sim.base_url, cache=ResponseCache(path))
        network = asyncio.run(timed_calls(fill, n))
        before = sim.stats()["requests"]
        replay = OpenAICompatModel(
            "sim", base_url=sim.base_url, cache=ResponseCache(path, mode="replay")
        )
        hits = asyncio.run(timed_calls(replay, n))
        sent = sim.stats()["requests"] - before
    p50, p99 = percentile(hits, 0.5), percentile(hits, 0.99)
    base = percentile(network, 0.5)
    print(
        f"cache hit p50 {p50:.3f} ms p99 {p99:.3f} ms; network call p50 {base:.3f} ms; requests during replay: {sent}"
    )
    emit(
        "llm_cache",
        metric="hit_p50",
        value=p50,
        unit="ms",
        baseline=base,
        ratio=p50 / base,
        target=2.0,
        ok=p50 < 2.0 and sent == 0,
        p99_ms=round(p99, 4),
        replay_requests=sent,
        calls=n,
    )


if __name__ == "__main__":
    main()
