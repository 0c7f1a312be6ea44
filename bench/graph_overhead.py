"""Graph overhead: a best-of-64 graph vs ``asyncio.gather`` of the same 64 raw calls.

The simulator runs in its own process with a fixed 50 ms latency. Both sides use
the same :class:`~thinktank.llm.openai.OpenAICompatModel` object (concurrency 64)
and send the same messages (the solver's system prompt and rendered task): the
graph adds scheduling, agents, traces and selection on top. Repetitions alternate
which side goes first.

JSON: ``ratio`` = the median over repetitions of graph wall / gather wall (each
repetition pairs a graph run with the gather run next to it, so slow drifts in
machine load cancel). Target: <= 1.2.

At 64 connections most client CPU, on both sides, goes to httpcore's connection
pool bookkeeping (``_assign_requests_to_connections`` rescans the pool per queued
request), so walls vary a lot between repetitions on a busy machine; the paired
median is the figure to quote.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import emit, parser

from thinktank.agents.roles import load_prompt
from thinktank.graphs import compile
from thinktank.graphs.render import render
from thinktank.graphs.topologies import best_of_n
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess

N = 64
LATENCY_MS = 50.0
TASK = "What is 17 * 23? Show your work."


async def measure(reps: int) -> tuple[list[float], list[float]]:
    cfg = SimulatorConfig(latency=LATENCY_MS, default_reply="17 * 23 = 391.\nAnswer: 391")
    messages = [
        {"role": "system", "content": load_prompt("solver")},
        {"role": "user", "content": render("solver", TASK, [])},
    ]
    graph_walls: list[float] = []
    gather_walls: list[float] = []
    with SimulatorProcess(cfg) as sim:
        model = OpenAICompatModel("sim", base_url=sim.base_url, concurrency=N)
        graph = compile(best_of_n(N, select="vote"), models=model)
        try:

            async def via_graph(i: int) -> float:
                t0 = time.perf_counter()
                res = await graph.run(f"{TASK} (run {i})", seed=i)
                wall = time.perf_counter() - t0
                assert res.status == "ok" and res.samples == N, res.error
                return wall

            async def via_gather(i: int) -> float:
                t0 = time.perf_counter()
                out = await asyncio.gather(
                    *(model.generate(messages, seed=1000 * i + k) for k in range(N))
                )
                wall = time.perf_counter() - t0
                assert len(out) == N
                return wall

            await via_graph(-1)  # warm connections and imports
            await via_gather(-1)
            for i in range(reps):
                if i % 2:
                    gather_walls.append(await via_gather(i))
                    graph_walls.append(await via_graph(i))
                else:
                    graph_walls.append(await via_graph(i))
                    gather_walls.append(await via_gather(i))
        finally:
            await model.aclose()
    return graph_walls, gather_walls


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    reps = 15 if args.quick else 41
    graph_walls, gather_walls = asyncio.run(measure(reps))
    g, r = statistics.median(graph_walls), statistics.median(gather_walls)
    ratio = statistics.median(a / b for a, b in zip(graph_walls, gather_walls, strict=True))
    print(f"best-of-{N} at {LATENCY_MS:.0f} ms simulated latency, {reps} repetitions")
    print(f"  graph   median {1000 * g:7.1f} ms  (min {1000 * min(graph_walls):.1f})")
    print(f"  gather  median {1000 * r:7.1f} ms  (min {1000 * min(gather_walls):.1f})")
    print(f"  paired ratio median {ratio:.3f}  (ratio of medians {g / r:.3f})")
    emit(
        "graph_overhead",
        metric="best-of-64 graph wall / gather wall",
        value=1000 * g,
        unit="ms",
        baseline=1000 * r,
        ratio=ratio,
        target=1.2,
        ok=ratio <= 1.2,
        reps=reps,
        ratio_of_medians=round(g / r, 4),
    )


if __name__ == "__main__":
    main()
