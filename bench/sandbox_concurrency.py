"""32 concurrent ``run_python`` calls over a warm pool of 8 Docker sandboxes.

Each call leases a sandbox, runs a small program, and returns the lease (which resets
the sandbox: kill everything, wipe writable dirs, verify). All 32 must succeed with the
right output. Baseline in the same run: the raw docker SDK running the same 32
programs with ``exec_run`` from 8 threads over 8 plain pre-started containers, with no
reset and no isolation guarantees between calls. ``value`` = thinktank calls/s;
``ratio`` = thinktank throughput / raw throughput (medians over rounds).

Target: ``ratio`` >= 0.5, and every call succeeds. The pool does more than the raw
baseline on the critical path — each sandbox serves 4 calls in turn and is reset and
verified between them — so parity is not the bar; isolation between calls may cost at
most half of the raw throughput. ``ok`` = all calls right and ratio >= target.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from _common import emit, parser

from thinktank.sandboxes import PoolConfig
from thinktank.sandboxes._engine import docker_client
from thinktank.sandboxes.image import default_image

CALLS, POOL = 32, 8
TARGET_RATIO = 0.5
CODE = "import math, sys\nn = {i}\nprint(sum(math.factorial(k) % 97 for k in range(200)) + n)"
EXPECTED = sum(__import__("math").factorial(k) % 97 for k in range(200))


async def pooled(pool_rounds: int) -> tuple[list[float], int]:
    walls, ok = [], 0
    async with PoolConfig(size=POOL, max_size=POOL).build() as pool:
        await pool.start()

        async def call(i: int) -> bool:
            async with pool.sandbox() as sb:
                res = await sb.run_python(CODE.format(i=i), timeout=60)
            return res.exit_code == 0 and res.stdout.strip() == str(EXPECTED + i)

        for _ in range(pool_rounds):
            await pool.wait_ready(POOL)  # each round starts from a warm pool
            t0 = time.perf_counter()
            results = await asyncio.gather(*(call(i) for i in range(CALLS)))
            walls.append(time.perf_counter() - t0)
            ok += sum(results)
    return walls, ok


def raw(rounds: int) -> list[float]:
    client = docker_client()
    containers = [
        client.containers.run(default_image(), ["sleep", "600"], detach=True, network_mode="none")
        for _ in range(POOL)
    ]
    walls = []
    try:
        with ThreadPoolExecutor(POOL) as pool:

            def call(i: int) -> None:
                code, out = containers[i % POOL].exec_run(["python3", "-c", CODE.format(i=i)])
                assert code == 0 and out.decode().strip() == str(EXPECTED + i)

            for _ in range(rounds):
                t0 = time.perf_counter()
                list(pool.map(call, range(CALLS)))
                walls.append(time.perf_counter() - t0)
    finally:
        for c in containers:
            c.remove(force=True)
    return walls


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    rounds = 3 if args.quick else 8
    ours, succeeded = asyncio.run(pooled(rounds))
    base = raw(rounds)
    ours_wall, base_wall = statistics.median(ours), statistics.median(base)
    thr, base_thr = CALLS / ours_wall, CALLS / base_wall
    print(
        f"{CALLS} run_python calls over a pool of {POOL}: {ours_wall:.2f}s ({thr:.1f} calls/s), "
        f"{succeeded}/{CALLS * rounds} succeeded; raw exec_run x{POOL} threads: {base_wall:.2f}s ({base_thr:.1f} calls/s)"
    )
    emit(
        "sandbox_concurrency",
        metric="run_python_throughput",
        value=thr,
        unit="calls/s",
        baseline=base_thr,
        ratio=thr / base_thr,
        target=TARGET_RATIO,
        ok=succeeded == CALLS * rounds and thr / base_thr >= TARGET_RATIO,
        succeeded=succeeded,
        calls=CALLS * rounds,
        pool_size=POOL,
        wall_s=round(ours_wall, 3),
        success_rate=round(succeeded / (CALLS * rounds), 4),
        rounds=rounds,
    )


if __name__ == "__main__":
    main()
