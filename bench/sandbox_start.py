"""Cold start and pool acquire.

* Cold: create a Docker sandbox and get the first exec result (``true``), p50 over
  several starts. Baseline in the same run: the raw docker SDK doing the minimum
  (``containers.run(image, "sleep", detach=True)`` + ``exec_run``), so ``ratio`` shows
  what the hardening costs. Target: p50 <= 1.0 s.
* Pool acquire: lease latency from a warm pool (``size=2``), p50. Target: <= 50 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import emit, parser

from thinktank.sandboxes import DockerSandboxConfig, PoolConfig, docker_client
from thinktank.sandboxes.image import default_image


async def cold_starts(n: int) -> list[float]:
    provider = DockerSandboxConfig().build()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        sb = await provider.create()
        res = await sb.exec(["true"])
        out.append(time.perf_counter() - t0)
        assert res.exit_code == 0
        await sb.close()
    return out


def raw_cold_starts(n: int) -> list[float]:
    client = docker_client()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c = client.containers.run(
            default_image(), ["sleep", "600"], detach=True, network_mode="none"
        )
        try:
            code, _ = c.exec_run(["true"])
            out.append(time.perf_counter() - t0)
            assert code == 0
        finally:
            c.remove(force=True)
    return out


async def pool_acquires(n: int) -> list[float]:
    async with PoolConfig(size=2, max_size=2).build() as pool:
        await pool.start()
        out = []
        for _ in range(n):
            await pool.wait_ready(1)  # measure a warm pool, not a refill
            t0 = time.perf_counter()
            lease = await pool.acquire()
            out.append(time.perf_counter() - t0)
            await lease.close()
        return out


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 6 if args.quick else 20
    asyncio.run(cold_starts(1))  # warm caches (image layers, client)
    ours, raw = [], []
    for i in range(2):
        if i % 2 == 0:
            ours += asyncio.run(cold_starts(n // 2))
            raw += raw_cold_starts(n // 2)
        else:
            raw += raw_cold_starts(n // 2)
            ours += asyncio.run(cold_starts(n // 2))
    acquires = asyncio.run(pool_acquires(20 if args.quick else 60))
    cold, base = statistics.median(ours), statistics.median(raw)
    acquire = statistics.median(acquires)
    print(
        f"cold start to first result p50: thinktank {cold:.3f}s, raw SDK {base:.3f}s (n={len(ours)}); "
        f"pool acquire p50 {acquire * 1e3:.2f} ms (n={len(acquires)})"
    )
    emit(
        "sandbox_start",
        metric="cold_start_p50",
        value=cold,
        unit="s",
        baseline=base,
        ratio=cold / base,
        target=1.0,
        ok=cold <= 1.0 and acquire <= 0.05,
        pool_acquire_p50_ms=round(acquire * 1e3, 3),
        pool_acquire_target_ms=50,
        cold_max_s=round(max(ours), 3),
        samples=len(ours),
    )


if __name__ == "__main__":
    main()
