"""n=64 samples at a fixed 300 ms server latency vs one call, on an endpoint that ignores ``n``.

thinktank fans out: 64 concurrent requests for one ``generate(n=64)``. ``ratio`` =
wall(n=64) / wall(one call) on that fan-out path — what the client costs when the
endpoint cannot batch (most non-OpenAI servers). Target: <= 1.25. The native-``n``
path (one request, 64 choices) is measured too and reported beside it
(``native_ratio``): it is about 1.0 by construction (the server sleeps once).
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


async def measure(base_url: str, native: bool, reps: int) -> tuple[float, float, int, float]:
    """Median wall of one call and of n=64, distinct samples, client CPU per n=64 call."""
    model = OpenAICompatModel(
        "sim", base_url=base_url, concurrency=64, capabilities=Capabilities(native_n=native)
    )
    try:
        await model.generate(MESSAGES, n=64, temperature=1.0, max_tokens=8)  # warm the pool
        one, many, cpu = [], [], []
        distinct = 0
        for _ in range(reps):
            t0 = time.perf_counter()
            await model.generate(MESSAGES, temperature=1.0, max_tokens=8)
            one.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.process_time()
            out = await model.generate(MESSAGES, n=64, temperature=1.0, max_tokens=8)
            many.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert len(out) == 64
            distinct = max(distinct, len({c.text for c in out}))
        return statistics.median(one), statistics.median(many), distinct, statistics.median(cpu)
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
    for native, (one, many, distinct, cpu) in results.items():
        label = "native n" if native else "fan-out"
        print(
            f"{label:9s}: one call {one * 1e3:.0f} ms, n=64 {many * 1e3:.0f} ms, ratio "
            f"{many / one:.3f}, distinct samples {distinct}, client CPU {cpu * 1e3:.0f} ms per n=64"
        )
    ratios = {native: many / one for native, (one, many, _, _) in results.items()}
    one, many, _, cpu = results[False]
    emit(
        "llm_fanout",
        metric="wall_ratio_n64_fanout",
        value=many,
        unit="s",
        baseline=one,
        ratio=ratios[False],
        target=1.25,
        ok=ratios[False] <= 1.25,
        native_ratio=round(ratios[True], 4),
        native_ok=ratios[True] <= 1.25,
        client_cpu_ms_per_request=round(cpu * 1e3 / 64, 3),
        repetitions=reps,
    )


if __name__ == "__main__":
    main()
