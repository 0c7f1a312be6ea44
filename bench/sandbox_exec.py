"""Warm exec round trip of `true` in one Docker sandbox: thinktank's ``Sandbox.exec`` vs
the raw docker SDK ``Container.exec_run`` on the same container, in the same run.

thinktank's exec does more than ``exec_run``: it runs the command under a timeout
wrapper with a process-group kill, streams and caps output, and marks every process
for a host-side kill. ``ratio`` = thinktank p50 / raw p50 (rounds alternate order).
Target: <= 1.2.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import emit, parser, percentile

from thinktank.sandboxes import DockerSandboxConfig, docker_client


async def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    async with await DockerSandboxConfig().build().create() as sb:
        container = docker_client().containers.get(sb.container_id)
        samples: dict[str, list[float]] = {"raw": [], "thinktank": [], "thinktank_shell": []}

        def raw_once() -> float:
            t0 = time.perf_counter()
            code, _ = container.exec_run(["true"])
            assert code == 0
            return time.perf_counter() - t0

        async def ours_once(command: str | list[str]) -> float:
            t0 = time.perf_counter()
            res = await sb.exec(command)
            assert res.exit_code == 0, res
            return time.perf_counter() - t0

        for _ in range(3):  # warm both paths
            raw_once()
            await ours_once(["true"])
        for r in range(rounds):
            order = ["raw", "thinktank"] if r % 2 == 0 else ["thinktank", "raw"]
            for name in order:
                for _ in range(per_round):
                    if name == "raw":
                        samples["raw"].append(raw_once())
                    else:
                        samples["thinktank"].append(await ours_once(["true"]))
            for _ in range(per_round // 4):
                samples["thinktank_shell"].append(await ours_once("true"))
        return samples


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    rounds, per_round = (4, 30) if args.quick else (10, 100)
    samples = asyncio.run(measure(rounds, per_round))
    raw, ours, shell = samples["raw"], samples["thinktank"], samples["thinktank_shell"]
    raw_p50, ours_p50 = statistics.median(raw), statistics.median(ours)
    ratio = ours_p50 / raw_p50
    print(
        f"exec `true` p50/p99: raw exec_run {raw_p50 * 1e3:.1f}/{percentile(raw, 0.99) * 1e3:.1f} ms, "
        f"thinktank {ours_p50 * 1e3:.1f}/{percentile(ours, 0.99) * 1e3:.1f} ms "
        f"(shell string: {statistics.median(shell) * 1e3:.1f} ms), n={len(ours)} each"
    )
    emit(
        "sandbox_exec",
        metric="exec_true_p50",
        value=ours_p50 * 1e3,
        unit="ms",
        baseline=raw_p50 * 1e3,
        ratio=ratio,
        target=1.2,
        ok=ratio <= 1.2,
        p99_ms=round(percentile(ours, 0.99) * 1e3, 2),
        raw_p99_ms=round(percentile(raw, 0.99) * 1e3, 2),
        shell_string_p50_ms=round(statistics.median(shell) * 1e3, 2),
        samples=len(ours),
    )


if __name__ == "__main__":
    main()
