"""Ray executor overhead: 500 single-call tasks (the simulator answering in 100 ms,
in its own process) through the local executor and through the ``ray`` executor on
a private Ray cluster on this machine (2 CPUs: two worker processes).

Same-run baseline: the local executor (the runner in this process). ``ratio`` =
Ray wall / local wall for the same 500 tasks, both at concurrency 50 (the model's
endpoint limit too, held cluster-wide by the limiter actor on Ray), median over
repetitions in alternating order. The Ray run is timed with its workers up, as on
a cluster that serves many runs; what a cold run adds — starting the worker
processes — is reported as ``workers_start_s`` and ``ratio_cold`` (one cold run),
and the cluster's own start as ``cluster_start_s``. One cluster serves every
measurement. Target: ``ratio`` <= 1.5.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

from _common import NO_PYTHON, emit, math_tasks, parser, sim_model

from thinktank.cluster import RayExecutor
from thinktank.cluster.connect import start_local
from thinktank.evals.runs.runner import Runner
from thinktank.evals.runs.sweep import expand_graphs
from thinktank.evals.runs.worker import TaskWorker
from thinktank.evals.tasks.task import Task
from thinktank.llm.simulator import Latency, SimulatorConfig, SimulatorProcess

N = 500
CONCURRENCY = 50
LATENCY_MS = 100
TARGET = 1.5


async def run(url: str, tasks: list[Task], executor: str) -> tuple[float, float]:
    """``(wall of the run, wall of starting its workers)``; ``warm`` starts them first."""
    chat = sim_model(url, CONCURRENCY)
    start = 0.0
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as out:
        ex: str | RayExecutor = executor
        if executor == "warm":
            graphs = expand_graphs(["single"])
            worker = TaskWorker(graphs, {"default": chat}, environment_options=NO_PYTHON)
            ex = RayExecutor(worker, models={"default": chat}, concurrency=CONCURRENCY)
            t0 = time.perf_counter()
            await ex.prestart(["math"])
            start = time.perf_counter() - t0
        r = Runner(
            tasks, ["single"], chat, out_dir=out, concurrency=CONCURRENCY, progress=False,
            environment_options=NO_PYTHON, executor=ex,
        )  # fmt: skip
        try:
            t0 = time.perf_counter()
            summary = await r.run()
            wall = time.perf_counter() - t0
        finally:
            await chat.aclose()
    assert summary.recorded == len(tasks) and summary.errors == 0, summary
    return wall, start


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    reps = 1 if args.quick else 3
    tasks = math_tasks(N)
    t0 = time.perf_counter()
    cluster = start_local(num_cpus=2, docker=0)
    cluster_start = time.perf_counter() - t0
    config = SimulatorConfig(
        default_reply="Adding gives 42.\nAnswer: 42", latency=Latency(ms=LATENCY_MS)
    )
    try:
        with SimulatorProcess(config) as sim:
            url = sim.base_url
            asyncio.run(run(url, tasks[:50], "local"))  # imports, connections
            cold, _ = asyncio.run(run(url, tasks, "ray"))
            local, ray, starts = [], [], []
            for i in range(reps):
                for name in ("local", "warm") if i % 2 == 0 else ("warm", "local"):
                    wall, start = asyncio.run(run(url, tasks, name))
                    (local if name == "local" else ray).append(wall)
                    if name == "warm":
                        starts.append(start)
    finally:
        cluster.shutdown()
    lo, ra = statistics.median(local), statistics.median(ray)
    floor = N / CONCURRENCY * LATENCY_MS / 1000
    print(
        f"{N} tasks at {LATENCY_MS} ms, concurrency {CONCURRENCY} (latency floor {floor:.1f}s): "
        f"local {lo:.2f}s, ray {ra:.2f}s with workers up (ratio {ra / lo:.2f}), "
        f"cold ray run {cold:.2f}s (ratio {cold / lo:.2f}); workers start in "
        f"{statistics.median(starts):.1f}s, the cluster in {cluster_start:.1f}s"
    )
    emit(
        "ray_overhead",
        metric="ray_wall_over_local_wall",
        value=ra / lo,
        unit="x",
        baseline=lo,
        ratio=ra / lo,
        target=TARGET,
        ok=ra / lo <= TARGET,
        tasks=N,
        latency_ms=LATENCY_MS,
        concurrency=CONCURRENCY,
        local_wall_s=round(lo, 3),
        ray_wall_s=round(ra, 3),
        ray_cold_wall_s=round(cold, 3),
        ratio_cold=round(cold / lo, 3),
        workers_start_s=round(statistics.median(starts), 3),
        cluster_start_s=round(cluster_start, 3),
        repetitions=reps,
    )


if __name__ == "__main__":
    main()
