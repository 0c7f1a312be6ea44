"""Memory learning on a task stream: accuracy on the second half with memory vs without.

The simulator's synthetic mode serves a stream of arithmetic questions in topic
families (``TaskSet.generate(families=F)``): questions of one family share topic
words and one strategy whose text, when it is in a solver's prompt, raises that
question's success probability by ``delta`` (a "boost"). A correct solver reply
mentions its family's strategy; a memory extractor reading it can learn it.

Per seed, the same stream (same questions, same run seed) runs twice through the
eval runner in streaming mode (tasks in order, each judged before the next):

* **without memory** — ``single`` graph, no bank;
* **with memory** — the same graph with ``memory=true`` (the solver reads the
  top-``k`` items retrieved by BM25 for its task) and a
  :class:`~thinktank.learning.MemoryLearner` (``reasoningbank`` by default: up to 3
  strategies from a success, 3 pitfalls from a failure, judged by the evaluator).

Only the second half of each stream is scored: by then most families have had a
success to learn from. Samples are seeded by (run seed, task, node, round,
index), so the two runs draw the same random numbers for every task and differ
only by what memory put in the prompt — a paired comparison.

``value`` = accuracy with memory on the second halves (all seeds pooled),
``baseline`` = without, ``ratio`` = with / without, ``target`` = baseline + the
margin. ``ok`` when the gain is positive and larger than twice its paired standard
error
(``2 * sd(d) / sqrt(n)`` over the per-task differences ``d = with - without``):
a one-sided test at about the 2.3% level, so a gain this size is not noise of the
draws. The expected gain is about ``delta x (share of second-half tasks whose
family strategy was learned)``; the bench reports the share of second-half
prompts that held their own family's strategy (``boosted_share``).
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


def stream(n: int, families: int, seed: int, delta: float) -> TaskSet:
    return TaskSet.generate(n, seed=seed, p_correct=(0.15, 0.65), families=families, boost_delta=delta)  # fmt: skip


async def one_run(
    url: str, tasks: list[Task], graph: str, out: Path, *, mode: str | None, seed: int, k: int,
    consolidate: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """One streaming run; returns per-task correctness, prompts' strategies and costs."""
    model = OpenAICompatModel("sim", base_url=url, concurrency=8)
    bank = learner = None
    if mode is not None:
        bank = SQLiteMemoryBank(out.with_suffix(".sqlite"))
        config = LearnerConfig(consolidate_every=consolidate)
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
    consolidate: int,
) -> dict[str, Any]:  # fmt: skip
    ts = stream(n, families, seed, delta)
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in ts.questions]
    cfg = SimulatorConfig.model_validate({"seed": seed, "synthetic": {"tasks": ts.model_dump()}})
    with SimulatorProcess(cfg) as sim:
        plain = await one_run(sim.base_url, tasks, graph, tmp / f"plain-{seed}", mode=None, seed=seed, k=k)  # fmt: skip
        mem = await one_run(
            sim.base_url, tasks, graph, tmp / f"mem-{seed}", mode=mode, seed=seed, k=k,
            consolidate=consolidate,
        )  # fmt: skip
    second = ts.questions[n // 2 :]
    return {
        "seed": seed,
        "d": [int(mem["correct"][q.id]) - int(plain["correct"][q.id]) for q in second],
        "with": [int(mem["correct"][q.id]) for q in second],
        "without": [int(plain["correct"][q.id]) for q in second],
        "boosted": [q.boosts[0].text in mem["prompts"].get(q.id, "") for q in second],
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
    p.add_argument("--delta", type=float, default=0.3, help="boost of a family's strategy")
    p.add_argument("-k", type=int, default=3, help="memory items per solver")
    p.add_argument(
        "--consolidate-every", type=int, default=0, help="merge near-duplicates every N tasks"
    )
    args = p.parse_args()
    n = args.tasks or (80 if args.quick else 200)
    seeds = args.seeds or (3 if args.quick else 10)
    families = args.families or (4 if args.quick else 8)
    graph = args.graph or GRAPHS[args.mode]
    set_price("sim", 0.0, 0.0)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for s in range(seeds):
            run = seed_pair(
                n, families, s, args.delta, args.mode, graph, args.k, Path(tmp),
                args.consolidate_every,
            )  # fmt: skip
            pairs.append(asyncio.run(run))
    d = [x for r in pairs for x in r["d"]]
    with_acc = statistics.fmean(x for r in pairs for x in r["with"])
    without_acc = statistics.fmean(x for r in pairs for x in r["without"])
    gain = with_acc - without_acc
    se = statistics.pstdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("inf")
    for r in pairs:
        print(
            f"seed {r['seed']}: second half {sum(r['without'])}/{len(r['without'])} without, "
            f"{sum(r['with'])}/{len(r['with'])} with memory; {r['items']} items; "
            f"{sum(r['boosted'])} prompts held their strategy; {r['wall_s']:.1f}s"
        )
    emit(
        "memory_learning",
        metric=f"accuracy on the second half of {seeds} streams of {n} tasks with memory ({args.mode})",
        value=with_acc,
        unit="accuracy",
        baseline=without_acc,
        ratio=with_acc / without_acc if without_acc else None,
        target=round(without_acc + 2 * se, 4),
        ok=gain > 0 and gain > 2 * se,
        gain=round(gain, 4),
        gain_se=round(se, 4),
        paired_tasks=len(d),
        improved=sum(1 for x in d if x > 0),
        worsened=sum(1 for x in d if x < 0),
        boosted_share=round(statistics.fmean(b for r in pairs for b in r["boosted"]), 4),
        items_per_stream=round(statistics.fmean(r["items"] for r in pairs), 1),
        learn_tokens=sum(r["learn_tokens"] for r in pairs),
        learn_warnings=sum(r["learn_warnings"] for r in pairs),
        mode=args.mode,
        graph=graph,
        families=families,
        delta=args.delta,
        seconds=round(time.perf_counter() - t0, 1),
    )


if __name__ == "__main__":
    main()
