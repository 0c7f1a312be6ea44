"""n=64 samples at a fixed 300 ms server latency vs one call.

Measured twice: with native ``n`` (one request, 64 choices) and with an endpoint
that ignores ``n`` (thinktank fans out 64 concurrent requests). ``ratio`` =
wall(n=64) / wall(one call) on the simulator's native-n path (the endpoint
supports ``n``); the fan-out path is reported beside it. Target: <= 1.25.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import emit, parser

from thinktank.llm.base import Capabilities
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess

MESSAGES = [{"role": "user", "content": "Pick a number."}]


async def measure(base_url: str, native: bool, reps: int) -> tuple[float, float, int]:
    model = OpenAICompatModel(
        "sim", base_url=base_url, concurrency=64, capabilities=Capabilities(native_n=native)
    )
    try:
        await model.generate(MESSAGES, n=64, temperature=1.0, max_tokens=8)  # warm the pool
        one, many = [], []
        distinct = 0
        for _ in range(reps):
            t0 = time.perf_counter()
            await model.generate(MESSAGES, temperature=1.0, max_tokens=8)
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = await model.generate(MESSAGES, n=64, temperature=1.0, max_tokens=8)
            many.append(time.perf_counter() - t0)
            assert len(out) == 64
            distinct = max(distinct, len({c.text for c in out}))
        return statistics.median(one), statistics.median(many), distinct
    finally:
        await model.aclose()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    reps = 5 if args.quick else 15
    results = {}
    for native in (True, False):
        cfg = SimulatorConfig(latency=300, native_n=native)
        with SimulatorProcess(cfg) as sim:
            results[native] = asyncio.run(measure(sim.base_url, native, reps))
    for native, (one, many, distinct) in results.items():
        label = "native n" if native else "fan-out"
        print(
            f"{label:9s}: one call {one * 1e3:.0f} ms, n=64 {many * 1e3:.0f} ms, ratio {many / one:.3f}, distinct samples {distinct}"
        )
    ratios = {native: many / one for native, (one, many, _) in results.items()}
    one, many, _ = results[True]
    emit(
        "llm_fanout",
        metric="wall_ratio_n64",
        value=many,
        unit="s",
        baseline=one,
        ratio=ratios[True],
        target=1.25,
        ok=ratios[True] <= 1.25,
        fanout_ratio=round(ratios[False], 4),
        fanout_ok=ratios[False] <= 1.25,
    )


if __name__ == "__main__":
    main()
