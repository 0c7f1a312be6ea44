"""Framework time per agent step: a 20-step tool loop with a zero-latency scripted
model and a trivial tool. ``value`` = p50 ms per step over repeated runs; baseline =
a bare loop that calls the same tool function directly. Target: <= 2 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import emit, parser

from thinktank.agents.agent import Agent
from thinktank.llm.testing import ScriptedModel
from thinktank.tools import tool

STEPS = 20


@tool
async def bump(x: int) -> int:
    """Add one.

    Args:
        x: the number
    """
    return x + 1


def script() -> list[object]:
    return [{"name": "bump", "arguments": {"x": i}} for i in range(STEPS - 1)] + ["Answer: done"]


async def agent_run() -> float:
    agent = Agent("solver", ScriptedModel(script()), tools=[bump], max_steps=STEPS)
    t0 = time.perf_counter()
    traj = await agent.run("count")
    dt = time.perf_counter() - t0
    assert traj.status == "ok" and len(traj.steps) == STEPS
    return dt / STEPS


async def bare_run() -> float:
    t0 = time.perf_counter()
    x = 0
    for _ in range(STEPS - 1):
        x = await bump.fn(x)
    return (time.perf_counter() - t0) / STEPS


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    runs = 200 if args.quick else 1000
    asyncio.run(agent_run())
    per_step = [asyncio.run(agent_run()) * 1e3 for _ in range(runs)]
    bare = [asyncio.run(bare_run()) * 1e3 for _ in range(runs)]
    p50, base = statistics.median(per_step), statistics.median(bare)
    print(
        f"agent loop: p50 {p50:.3f} ms/step (p90 {sorted(per_step)[int(runs * 0.9)]:.3f}); bare tool calls {base:.4f} ms/step"
    )
    emit(
        "agent_overhead",
        metric="step_p50",
        value=p50,
        unit="ms",
        baseline=base,
        ratio=p50 / base if base else None,
        target=2.0,
        ok=p50 <= 2.0,
        steps=STEPS,
        runs=runs,
    )


if __name__ == "__main__":
    main()
