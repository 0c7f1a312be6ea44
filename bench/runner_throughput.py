"""Eval runner throughput: 2,000 single-call tasks (``single`` graph, one model call
each) on the simulator at zero latency (server in its own process), concurrency 64.

Same-run baseline: the raw model calls alone — ``asyncio.gather`` of the same 2,000
``ChatModel.generate`` calls (the solver's system + user messages) at concurrency
64. The runner adds everything else: the compiled graph (LangGraph), the agent,
budgets and ledger, the task environment, evaluation, pass@k judging, one SQLite
transaction per record and the progress counters.

``value`` = framework CPU time per task = (runner CPU − baseline CPU) / tasks, in ms,
this process's CPU time (the simulator runs in its own process), median over
repetitions in alternating order. Target: <= 5 ms. CPU time is the figure that
matters: it is what the framework adds per task, and on a busy machine it is steady
where wall time is not (other jobs' load moves it by more than the framework costs).
The same difference in wall time is reported beside it (``framework_wall_ms_per_task``).
Math tasks run without the sandboxed ``python`` tool (``{"math": {"python": False}}``)
so no sandbox is involved.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

from _common import NO_PYTHON, emit, math_tasks, parser, sim_model

from thinktank.agents.roles import load_prompt
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess

CONCURRENCY = 64
TARGET_MS = 5.0


async def baseline(url: str, tasks: list[Task]) -> float:
    """Wall time of the raw model calls alone."""
    chat = sim_model(url, CONCURRENCY)
    system = load_prompt("solver")
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(t: Task) -> None:
        async with sem:
            msgs = [
                {"role": "system", "content": system},
                {"role": "user", "content": f"Task:\n{t.prompt}"},
            ]
            [c] = await chat.generate(msgs, seed=0)
            assert c.text

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(t) for t in tasks))
        return time.perf_counter() - t0
    finally:
        await chat.aclose()


async def runner(url: str, tasks: list[Task]) -> tuple[float, float]:
    """Wall time of the eval runner on the same tasks, and its accuracy (a sanity check)."""
    chat = sim_model(url, CONCURRENCY)
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as out:
        r = Runner(
            tasks, ["single"], chat, out_dir=out, concurrency=CONCURRENCY, progress=False,
            environment_options=NO_PYTHON,
        )  # fmt: skip
        try:
            t0 = time.perf_counter()
            summary = await r.run()
            wall = time.perf_counter() - t0
        finally:
            await chat.aclose()
    assert summary.recorded == len(tasks) and summary.errors == 0, summary
    return wall, summary.accuracy["single"] or 0.0


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 2000
    reps = 1 if args.quick else 3
    tasks = math_tasks(n)
    with SimulatorProcess(SimulatorConfig(default_reply="Adding gives 42.\nAnswer: 42")) as sim:
        url = sim.base_url
        asyncio.run(baseline(url, tasks[:100]))  # warm both paths (imports, connections)
        asyncio.run(runner(url, tasks[:100]))
        base, ours, base_cpu, ours_cpu = [], [], [], []
        acc = 0.0
        for i in range(reps):
            for name in ("base", "runner") if i % 2 == 0 else ("runner", "base"):
                c0 = time.process_time()
                if name == "base":
                    base.append(asyncio.run(baseline(url, tasks)))
                    base_cpu.append(time.process_time() - c0)
                else:
                    wall, acc = asyncio.run(runner(url, tasks))
                    ours.append(wall)
                    ours_cpu.append(time.process_time() - c0)
    b, r = statistics.median(base), statistics.median(ours)
    wall_ms = (r - b) / n * 1000
    base_cpu_ms = statistics.median(base_cpu) / n * 1000
    cpu_ms = statistics.median(ours_cpu) / n * 1000 - base_cpu_ms
    print(
        f"baseline (raw calls): {b:.2f}s  runner: {r:.2f}s  for {n} tasks at concurrency "
        f"{CONCURRENCY}: {n / r:.0f} tasks/s, framework {cpu_ms:.2f} ms/task CPU, "
        f"{wall_ms:.2f} ms/task wall (accuracy {acc:.0%})"
    )
    emit(
        "runner_throughput",
        metric="framework_cpu_ms_per_task",
        value=cpu_ms,
        unit="ms",
        baseline=base_cpu_ms,
        ratio=(cpu_ms + base_cpu_ms) / base_cpu_ms if base_cpu_ms else None,
        target=TARGET_MS,
        ok=cpu_ms <= TARGET_MS,
        tasks=n,
        concurrency=CONCURRENCY,
        tasks_per_s=round(n / r, 1),
        runner_wall_s=round(r, 3),
        baseline_wall_s=round(b, 3),
        repetitions=reps,
        framework_wall_ms_per_task=round(wall_ms, 3),
    )


if __name__ == "__main__":
    main()
