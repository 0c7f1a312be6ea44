"""Budget use: runs cut by their budget spend it, stay within the overshoot bound, and
nothing a budget cut short is counted as complete.

The simulator serves the bundled math suite (70 questions, per-question accuracies,
replies of varied length), priced like gpt-4o ($2.50 / $10 per 1M tokens). Each
point is an eval of ``best_of_n:n=4`` (vote) with a run budget of a fraction of
what the whole suite costs (the same-run baseline: the suite once without a
budget), at concurrency 8, 32 and 64. At every point:

* ``spent / limit ≥ 0.95`` — admission spends a budget to its end (before, every
  call reserved its 1024-token worst case and runs stopped at ~12 %);
* ``spent ≤ limit + excess`` — the documented overshoot bound, where ``excess`` is
  what calls spent beyond their reservations (prompt under-estimates; 0 here);
* no recorded task that a budget cut short reads as complete.

Then a graph budget too small for the graph (``best_of_n:n=8`` with a per-task
``max_usd`` of half what it costs): every task cut short must be recorded
``budget_exhausted`` with its refused samples and counted as truncated by the report
statistics. And a grid optimizer study over ``solver n ∈ {8, 1, 2}`` (n=8 first, before
the cost estimate is calibrated) with ``max_cost_per_task`` between n=2 and n=8: the n=8
evaluation must end ``truncated`` and no ranked (best or Pareto) graph may have a
truncated task.

Admission guarantees ``spent ≥ limit − one minimal call``; the budgets here hold
dozens of calls, so that is above 95 %. Jobs the run budget interrupts are counted
(``interrupted``) with what they spent (``interrupted_usd``, money that bought no
record): once jobs have finished, the runner starts only jobs the budget can finish;
the first wave (before any job finished) starts ``concurrency`` jobs, and budget
admission serves their calls in task order, so the later ones wait rather than spend.

``value`` = the lowest ``spent / limit`` over the points; ``ok`` needs it ≥ 0.95, no
overshoot beyond the bound, and zero truncated results counted as complete.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from _common import NO_PYTHON, emit, parser

from thinktank.evals.reports.metrics import graph_stats
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.runs.sweep import expand_graphs
from thinktank.evals.tasks.simulated import simulator_config
from thinktank.evals.tasks.suites import load_suite
from thinktank.graphs.topologies import topology, with_budget
from thinktank.llm.admission import output_lengths
from thinktank.llm.pricing import set_price
from thinktank.llm.simulator import SimulatorProcess

PRICE = (2.50, 10.00)
TARGET = 0.95
GRAPH = "best_of_n:n=4"


async def run_eval(
    url: str,
    tasks: list[Any],
    graph: Any,
    out: Path,
    *,
    concurrency: int,
    budget: float | None,
) -> dict[str, Any]:
    from thinktank.llm.config import load_model

    model = load_model(f"openai:sim@{url}")
    runner = Runner(
        tasks, graph if isinstance(graph, dict) else expand_graphs([graph]), model, out_dir=out, concurrency=concurrency,
        budget_usd=budget, progress=False, environment_options=NO_PYTHON,
        check_models=False,
    )  # fmt: skip
    try:
        summary = await runner.run()
    finally:
        await model.aclose()
    b = runner.run_budget
    with RunDatabase.open(out) as db:
        records = db.records()
        spent = db.run_spent_usd()
        lost = sum(float(e.get("cost") or 0) for e in db.events("interrupted"))
    stats = graph_stats(records)
    # a record is complete only when every sample its graph started ran
    miscounted = sum(
        1 for r in records if not r.truncated and (r.refused > 0 or r.samples < r.samples_requested)
    )
    return {
        "spent": spent,
        "limit": budget,
        "excess": b.excess_usd if b is not None else 0.0,
        "recorded": summary.recorded,
        "interrupted": summary.interrupted,
        "interrupted_usd": lost,
        "stop": summary.stop_reason,
        "truncated": sum(s.truncated for s in stats),
        "miscounted": miscounted,
        "clipped": b.clipped if b is not None else 0,
        "waited": b.waited if b is not None else 0,
        "records": records,
    }


async def optimizer_study(url: str, tasks: list[Any], root: Path) -> dict[str, Any]:
    """A grid study where n=8 does not fit ``max_cost_per_task``: is anything truncated ranked?"""
    from thinktank.optimize import SearchSpace, Study, StudyConfig
    from thinktank.optimize.objective import RunnerObjective
    from thinktank.optimize.results import EVALUATED
    from thinktank.optimize.store import EvalStore

    one = (await run_eval(url, tasks[:6], "single", root / "probe", concurrency=6, budget=None))[
        "spent"
    ] / 6
    space = SearchSpace.from_yaml(
        f"""
name: budget-use
nodes:
  - {{id: solver, role: solver, n: [8, 1, 2], model: [sim], temperature: [0.8]}}
selection: [vote]
constraints: {{max_cost_per_task: {one * 4:.8f}}}
"""
    )
    evaluator = RunnerObjective({"sim": f"openai:sim@{url}"}, environment_options=NO_PYTHON)
    study = Study(
        space,
        tasks[:16],
        evaluator,
        StudyConfig(algo="grid", budget_usd=5.0, concurrency=8, max_evals=10),
        out_dir=root / "opt",
    )
    try:
        result = await study.run()
    finally:
        await evaluator.aclose()
    store = EvalStore(root / "opt" / "evals.db")
    from thinktank.optimize.store import task_key

    keys = [task_key(t) for t in tasks[:16]]
    ranked = [t for t in result.trials if t.status in EVALUATED and t.key]
    ranked_truncated = 0
    for t in {t.key: t for t in [*ranked, *result.pareto]}.values():
        outs = store.get_many(str(t.key), keys, study.config.seed)
        ranked_truncated += any(o.truncated for o in outs.values())
    return {
        "statuses": {t.description: t.status for t in result.trials if t.description},
        "truncated_trials": sum(t.status == "truncated" for t in result.trials),
        "ranked_with_truncated_tasks": ranked_truncated,
        "best": result.best.description if result.best else None,
    }


async def main_async(quick: bool) -> None:
    tasks = load_suite("math")
    set_price("sim", *PRICE)
    config = simulator_config(tasks)
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tt-budget-") as tmp, SimulatorProcess(config) as sim:
        root = Path(tmp)
        url = sim.base_url
        full = await run_eval(url, tasks, GRAPH, root / "full", concurrency=32, budget=None)
        cost = full["spent"]
        print(f"the whole suite through {GRAPH}: ${cost:.4f} for {len(tasks)} tasks")
        fractions = (0.5,) if quick else (0.25, 0.5, 0.8)
        for conc in (8, 32, 64):
            for f in fractions:
                output_lengths.clear()  # every point starts cold, as a fresh process would
                limit = round(cost * f, 6)
                got = await run_eval(
                    url, tasks, GRAPH, root / f"c{conc}-{f}", concurrency=conc, budget=limit
                )
                got["concurrency"], got["fraction"] = conc, f
                got["use"] = got["spent"] / limit
                got["within_bound"] = got["spent"] <= limit + got["excess"] + 1e-9
                print(
                    f"concurrency {conc:>2}, budget {f:.0%} of the suite (${limit:.4f}): spent "
                    f"${got['spent']:.4f} = {got['use']:.1%} · {got['recorded']} recorded, "
                    f"{got['interrupted']} interrupted (${got['interrupted_usd']:.4f} of it) · "
                    f"{got['waited']} calls waited, "
                    f"{got['clipped']} clipped · excess ${got['excess']:.6f}"
                )
                points.append(got)
        # a graph budget smaller than the graph: truncated tasks must say so
        per_task = cost / len(tasks)
        tight = {"tight": with_budget(topology("best_of_n", n=8), max_usd=per_task)}
        cut = await run_eval(url, tasks[:20], tight, root / "tight", concurrency=8, budget=None)
        short = [r for r in cut["records"] if r.samples < r.samples_requested or r.refused]
        flagged = sum(r.truncated and r.status == "budget_exhausted" for r in short)
        print(
            f"per-task budget ${per_task:.5f} for best_of_n:n=8: {len(short)} of "
            f"{cut['recorded']} tasks cut short, {flagged} of them recorded budget_exhausted "
            f"and counted truncated ({cut['truncated']} in the report statistics)"
        )
        study = await optimizer_study(url, tasks, root)
        print(f"optimizer (grid, n in 1/2/8): {json.dumps(study['statuses'])}")
    lowest = min(p["use"] for p in points)
    overshoot_ok = all(p["within_bound"] for p in points)
    miscounted = sum(p["miscounted"] for p in points) + cut["miscounted"]
    miscounted += (len(short) - flagged) + study["ranked_with_truncated_tasks"]
    ok = (
        lowest >= TARGET
        and overshoot_ok
        and miscounted == 0
        and len(short) > 0  # the tight budget did cut tasks (else the check proves nothing)
        and cut["truncated"] == len(short)
        and study["truncated_trials"] > 0
    )
    emit(
        "budget_use",
        metric="min_spent_over_limit",
        value=lowest,
        unit="ratio",
        baseline=cost,
        ratio=lowest,
        target=TARGET,
        ok=ok,
        graph=GRAPH,
        tasks=len(tasks),
        points=[
            {
                "concurrency": p["concurrency"],
                "fraction": p["fraction"],
                "limit": round(p["limit"], 6),
                "spent": round(p["spent"], 6),
                "use": round(p["use"], 4),
                "excess": round(p["excess"], 8),
                "within_bound": p["within_bound"],
                "interrupted": p["interrupted"],
                "interrupted_usd": round(p["interrupted_usd"], 6),
                "clipped": p["clipped"],
                "recorded": p["recorded"],
            }
            for p in points
        ],
        truncated_counted_complete=miscounted,
        tight_budget_cut=len(short),
        optimizer_truncated_trials=study["truncated_trials"],
        optimizer_best=study["best"],
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    asyncio.run(main_async(args.quick))


if __name__ == "__main__":
    main()
