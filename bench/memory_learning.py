"""Memory learning on a task stream: accuracy on the second half with memory vs without.

The simulator's synthetic mode (realistic defaults) serves a stream of arithmetic
questions in topic families (``TaskSet.generate(families=F)``): questions of one family
share topic words and one strategy whose text, when it is in a solver's prompt, changes
that question's success probability by ``delta`` (a "boost"). A correct solver reply
mentions its family's strategy; a memory extractor reading it can learn it. A wrong
reply mentions the family's *lure* (``--lure-delta``, a shortcut that lowers success):
a learner that takes a failure for a success learns it.

``--lessons`` sets what the strategy is worth: ``relevant`` (``+delta``), ``irrelevant``
(0: the lesson is learned, retrieved and shown, and changes nothing) or ``wrong``
(``-delta``: a lesson that hurts).

Per seed, the same stream (same questions, same run seed) runs twice through the
eval runner in streaming mode (tasks in order, each judged before the next):

* **without memory** — ``single`` graph, no bank;
* **with memory** — the same graph with ``memory=true`` (the solver reads the
  top-``k`` items retrieved by BM25 for its task) and a
  :class:`~thinktank.learning.MemoryLearner` (``reasoningbank`` by default: up to 3
  strategies from a success, 3 pitfalls from a failure), judging each run with the
  model itself (``--judge self_judge``, the learner's default; ``oracle`` uses the
  suite's labels).

Only the second half of each stream is scored: by then most families have had a
success to learn from. Samples are seeded by (run seed, task, node, round, index) and,
by the simulator's default, by the whole prompt: a prompt with a lesson in it is a
different sample, so a task can get worse with memory as well as better, and only the
average tells. The comparison is paired by task.

``value`` = accuracy with memory on the second halves (all seeds pooled),
``baseline`` = without, ``ratio`` = with / without. ``gain`` = the mean paired
difference ``d = with - without`` over second-half tasks (worsened tasks count -1),
with its 95% interval ``gain ± 1.96 sd(d) / sqrt(n)``; ``target`` = baseline + the
interval's half-width, ``ok`` when the interval's lower end is above 0 (memory helps,
beyond the noise of the draws). With ``--lessons irrelevant`` or ``wrong`` it must not
be ok. The bench reports the tasks improved and worsened and the share of second-half
prompts that held their own family's strategy (``boosted_share``) and a lure
(``lured_share``).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import NO_PYTHON, emit, parser

from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.learning import LEARN_MODES, LearnerConfig, MemoryLearner
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.pricing import set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess, TaskSet
from thinktank.memory import SQLiteMemoryBank

GRAPHS = {
    "reasoningbank": "single",
    "matts_parallel": "best_of_n:n=4",
    "matts_sequential": "refine:k=3,iterations=2",
    "cheatsheet_cumulative": "single",
    "cheatsheet_synthesis": "single",
}


def stream(n: int, families: int, seed: int, delta: float, lure: float) -> TaskSet:
    return TaskSet.generate(
        n, seed=seed, p_correct=(0.15, 0.65), families=families, boost_delta=delta,
        lure_delta=lure,
    )  # fmt: skip


async def one_run(
    url: str, tasks: list[Task], graph: str, out: Path, *, mode: str | None, seed: int, k: int,
    consolidate: int = 0, judge: str = "self_judge",
) -> dict[str, Any]:  # fmt: skip
    """One streaming run; returns per-task correctness, prompts' strategies and costs."""
    model = OpenAICompatModel("sim", base_url=url, concurrency=8)
    bank = learner = None
    if mode is not None:
        bank = SQLiteMemoryBank(out.with_suffix(".sqlite"))
        config = LearnerConfig(consolidate_every=consolidate, judge=judge)  # type: ignore[arg-type]
        learner = MemoryLearner(model, bank, mode=mode, config=config)
        graph = f"{graph},memory=true,memory_k={k}" if ":" in graph else f"{graph}:memory=true,memory_k={k}"  # fmt: skip
    t0 = time.perf_counter()
    try:
        await Runner(
            tasks, [graph], model, out_dir=out, stream=True, seed=seed, progress=False,
            memory=learner.memory if learner else None, on_task_done=learner,
            environment_options=NO_PYTHON,
        ).run()  # fmt: skip
        items = await bank.count() if bank else 0
    finally:
        if bank is not None:
            bank.close()
        await model.aclose()
    with RunDatabase.open(out) as db:
        correct = {r.task_id: bool(r.correct) for r in db.records()}
        prompts = {task_id: _system_prompts(res) for _, task_id, res in db.iter_results()}
    return {
        "correct": correct,
        "prompts": prompts,
        "wall_s": time.perf_counter() - t0,
        "items": items,
        "learn_tokens": learner.stats.tokens if learner else 0,
        "learn_warnings": learner.stats.warnings if learner else 0,
    }


def _system_prompts(result: dict[str, Any]) -> str:
    outs = (result.get("trace") or {}).get("outputs") or []
    return "\n".join(
        str(((o.get("trajectory") or {}).get("messages") or [{}])[0].get("content", ""))
        for o in outs
    )


async def seed_pair(
    n: int, families: int, seed: int, delta: float, mode: str, graph: str, k: int, tmp: Path,
    consolidate: int, lure: float, judge: str,
) -> dict[str, Any]:  # fmt: skip
    ts = stream(n, families, seed, delta, lure)
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in ts.questions]
    cfg = SimulatorConfig.model_validate({"seed": seed, "synthetic": {"tasks": ts.model_dump()}})
    with SimulatorProcess(cfg) as sim:
        plain = await one_run(sim.base_url, tasks, graph, tmp / f"plain-{seed}", mode=None, seed=seed, k=k)  # fmt: skip
        mem = await one_run(
            sim.base_url, tasks, graph, tmp / f"mem-{seed}", mode=mode, seed=seed, k=k,
            consolidate=consolidate, judge=judge,
        )  # fmt: skip
    second = ts.questions[n // 2 :]
    return {
        "seed": seed,
        "d": [int(mem["correct"][q.id]) - int(plain["correct"][q.id]) for q in second],
        "with": [int(mem["correct"][q.id]) for q in second],
        "without": [int(plain["correct"][q.id]) for q in second],
        "boosted": [q.boosts[0].text in mem["prompts"].get(q.id, "") for q in second],
        "lured": [
            any(b.text in mem["prompts"].get(q.id, "") for b in q.boosts[1:]) for q in second
        ],
        "items": mem["items"],
        "learn_tokens": mem["learn_tokens"],
        "learn_warnings": mem["learn_warnings"],
        "wall_s": plain["wall_s"] + mem["wall_s"],
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--mode", default="reasoningbank", choices=LEARN_MODES)
    p.add_argument("--graph", default=None, help="topology string (default: per mode)")
    p.add_argument("--tasks", type=int, default=None, help="tasks per stream")
    p.add_argument("--seeds", type=int, default=None, help="streams (seeds)")
    p.add_argument("--families", type=int, default=None)
    p.add_argument("--delta", type=float, default=0.3, help="size of a family strategy's effect")
    p.add_argument(
        "--lessons", default="relevant", choices=["relevant", "irrelevant", "wrong"],
        help="the strategy's effect: +delta, 0 or -delta",
    )  # fmt: skip
    p.add_argument(
        "--lure-delta", type=float, default=-0.15,
        help="effect of a family's lure (what wrong replies mention); 0: no lures",
    )  # fmt: skip
    p.add_argument("--judge", default="self_judge", choices=["self_judge", "oracle"])
    p.add_argument("-k", type=int, default=3, help="memory items per solver")
    p.add_argument(
        "--consolidate-every", type=int, default=0, help="merge near-duplicates every N tasks"
    )
    args = p.parse_args()
    n = args.tasks or (80 if args.quick else 200)
    seeds = args.seeds or (3 if args.quick else 10)
    families = args.families or (4 if args.quick else 8)
    graph = args.graph or GRAPHS[args.mode]
    delta = {"relevant": args.delta, "irrelevant": 0.0, "wrong": -args.delta}[args.lessons]
    set_price("sim", 0.0, 0.0)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for s in range(seeds):
            run = seed_pair(
                n, families, s, delta, args.mode, graph, args.k, Path(tmp),
                args.consolidate_every, args.lure_delta, args.judge,
            )  # fmt: skip
            pairs.append(asyncio.run(run))
    d = [x for r in pairs for x in r["d"]]
    with_acc = statistics.fmean(x for r in pairs for x in r["with"])
    without_acc = statistics.fmean(x for r in pairs for x in r["without"])
    gain = statistics.fmean(d)
    half = 1.96 * statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("inf")
    for r in pairs:
        print(
            f"seed {r['seed']}: second half {sum(r['without'])}/{len(r['without'])} without, "
            f"{sum(r['with'])}/{len(r['with'])} with memory "
            f"(+{sum(x > 0 for x in r['d'])} / -{sum(x < 0 for x in r['d'])}); "
            f"{r['items']} items; {sum(r['boosted'])} prompts held their strategy, "
            f"{sum(r['lured'])} a lure; {r['wall_s']:.1f}s"
        )
    print(
        f"paired gain {gain:+.4f}, 95% interval [{gain - half:+.4f}, {gain + half:+.4f}] "
        f"over {len(d)} tasks ({args.lessons} lessons, delta {delta:+g}, judge {args.judge})"
    )
    emit(
        "memory_learning",
        metric=f"accuracy on the second half of {seeds} streams of {n} tasks with memory ({args.mode})",
        value=with_acc,
        unit="accuracy",
        baseline=without_acc,
        ratio=with_acc / without_acc if without_acc else None,
        target=round(without_acc + half, 4),
        ok=gain - half > 0,
        gain=round(gain, 4),
        gain_ci95=[round(gain - half, 4), round(gain + half, 4)],
        paired_tasks=len(d),
        improved=sum(1 for x in d if x > 0),
        worsened=sum(1 for x in d if x < 0),
        boosted_share=round(statistics.fmean(b for r in pairs for b in r["boosted"]), 4),
        lured_share=round(statistics.fmean(b for r in pairs for b in r["lured"]), 4),
        items_per_stream=round(statistics.fmean(r["items"] for r in pairs), 1),
        learn_tokens=sum(r["learn_tokens"] for r in pairs),
        learn_warnings=sum(r["learn_warnings"] for r in pairs),
        mode=args.mode,
        graph=graph,
        families=families,
        lessons=args.lessons,
        delta=delta,
        lure_delta=args.lure_delta,
        judge=args.judge,
        seconds=round(time.perf_counter() - t0, 1),
    )


if __name__ == "__main__":
    main()
