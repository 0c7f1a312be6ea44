"""The demo run behind ``thinktank demo``: a small mixed set end to end, with memory.

Three tasks from the bundled suites — a math problem (agents get the ``python``
tool), an SWE instance (a repository in a Docker sandbox, the SWE tools, judged by
the harness in a fresh sandbox) and a web question (the fictional corpus served on
loopback) — each through two graphs: ``single`` and ``best_of_n`` with a verifier.
The :class:`~thinktank.evals.runs.runner.Runner` records every result in the run
directory and streams tasks in order; solvers read a SQLite memory bank in the run
directory and, after each task is judged, a :class:`~thinktank.learning.MemoryLearner`
records which lessons were used and has the model distil new ones (ReasoningBank
extraction with the evaluator's verdict as ground truth, once per task, at most two
items). Then the report (``report.md``, ``report.html``) is written.

Before that, :func:`run_simulated` shows what the framework is for: the bundled
``math`` suite through ``single``, a best-of-n sweep, adaptive self-consistency and
best-of-n with a verifier, against the simulator serving that suite (per-question
accuracies drawn as in ``thinktank models simulate --suite math``) with illustrative
prices, so the report's accuracy-vs-cost curves show what each graph buys. Everything
it writes says the model is simulated.

:func:`run_demo` and :func:`run_simulated` are the library entry points (tests pass a
scripted model to the first); :mod:`thinktank.cli.demo` prints what happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec
from thinktank.llm.base import ChatModel

DEMO_TASKS = {"math": "math-003", "swe": "pagekit", "web": "web-lighthouse-year"}
"""The task of each kind the demo runs (bundled suite ids / SWE folder names)."""

SIM_MODEL = "simulated"
"""Name of the simulated model in records and reports."""
SIM_PRICE = (2.50, 10.00)
"""Illustrative prices of the simulated model, dollars per 1M input / output tokens
(gpt-4o's list price), so that cost in the report means something."""
SIM_GRAPHS = (
    "single",
    "best_of_n:n=2,4,8",
    "self_consistency",
    "verifier=best_of_n:n=2,4,select=verifier",
)
"""The simulated sweep's graphs (``--graph`` strings: a sweep is one curve in the plots)."""
SIM_SUITE_LABEL = "math (simulated model)"


class DemoResult(BaseModel):
    """What :func:`run_demo` did."""

    out_dir: str
    report: str | None
    """``report.html``, once written."""
    model: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    """Per (task, graph): kind, correct, reason, answer excerpt, tokens, latency."""
    memory_items: int = 0
    """Items in the memory bank after the run."""
    memory_warnings: int = 0
    """Learning replies or items that were skipped (they did not parse, were too long, …)."""
    seconds: float = 0.0


def demo_tasks() -> list[Task]:
    """The demo's three tasks (math, SWE, web), in that order."""
    from thinktank.evals.tasks.suites import load_suite

    math = next(t for t in load_suite("math", game24=0) if t.id == DEMO_TASKS["math"])
    swe = next(t for t in load_suite("swe") if t.metadata.get("bundled") == DEMO_TASKS["swe"])
    web = next(t for t in load_suite("web") if t.id == DEMO_TASKS["web"])
    return [math, swe, web]


def demo_graphs(
    *, samples: int = 2, max_steps: int = 3, max_tokens: int = 96
) -> dict[str, GraphSpec]:
    """``single`` and ``best_of_n`` + verifier, solvers reading memory, small limits
    (a verifier replies with one short JSON object: one turn, fewer tokens)."""
    from thinktank.graphs.topologies.best_of_n import best_of_n
    from thinktank.graphs.topologies.single import single

    def small(spec: GraphSpec) -> GraphSpec:
        nodes = []
        for n in spec.nodes:
            answers = n.role in ANSWER_ROLES
            limits = {
                "max_steps": max_steps if answers else 1,
                "max_tokens": max_tokens if answers else min(max_tokens, 64),
                "memory": answers,
            }
            nodes.append(n.model_copy(update=limits))
        return spec.model_copy(update={"nodes": nodes})

    return {
        "single": small(single()),
        f"best_of_{samples}_verifier": small(best_of_n(samples, "verifier", temperature=0.8)),
    }


async def run_demo(
    model: ChatModel,
    out_dir: str | Path,
    *,
    samples: int = 2,
    max_steps: int = 3,
    max_tokens: int = 96,
    concurrency: int = 2,
    provider: Any = None,
    progress: bool | None = None,
) -> DemoResult:
    """Run the demo set with ``model`` into ``out_dir`` and write its report."""
    from thinktank.evals.reports.report import write_report
    from thinktank.evals.runs.runner import Runner
    from thinktank.learning import LearnerConfig, MemoryLearner
    from thinktank.memory import SQLiteMemoryBank
    from thinktank.sandboxes import DockerSandboxConfig

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the run
    tasks = demo_tasks()
    graphs = demo_graphs(samples=samples, max_steps=max_steps, max_tokens=max_tokens)
    provider = provider or DockerSandboxConfig().build()
    bank = SQLiteMemoryBank(out / "memory.sqlite", create=True)
    # one lesson-extraction call per task (not per graph) keeps the demo short; the demo
    # model is too small to judge its own runs, so the demo learns from the labels (the
    # oracle judge, shown as such in the report)
    config = LearnerConfig(mode="reasoningbank", max_items=2, once_per_task=True, judge="oracle")
    learner = MemoryLearner(model, bank, config=config)
    envs = {
        "math": {"provider": provider},
        "swe": {"provider": provider, "log_dir": str(out / "swe-logs")},
        "web": {},
    }
    try:
        runner = Runner(
            tasks, graphs, model, out_dir=out, concurrency=concurrency, memory=learner.memory,
            stream=True, on_task_done=learner, progress=progress, suite="demo",
            environment_options=envs,
        )  # fmt: skip
        await runner.run()
        paths = await _report(write_report, out)
        rows = _rows(out)
        items = await bank.count()
    finally:
        bank.close()
        await provider.aclose()
    html = next((str(p) for p in paths if p.name == "report.html"), None)
    result = DemoResult(
        out_dir=str(out), report=html, model=model.model_id, rows=rows, memory_items=items,
        memory_warnings=learner.stats.warnings, seconds=time.perf_counter() - t0,
    )  # fmt: skip
    (out / "demo.json").write_text(json.dumps(result.model_dump(), indent=2), encoding="utf-8")
    return result


async def _report(write: Any, out: Path) -> list[Path]:
    import asyncio

    paths: list[Path] = await asyncio.to_thread(write, out)
    return paths


def _rows(out: Path) -> list[dict[str, Any]]:
    from thinktank.evals.runs.records import RunDatabase

    db = RunDatabase(out / "records.sqlite")
    try:
        records = db.records()
    finally:
        db.close()
    rows = []
    for r in records:
        answer = (r.answer or "").strip()
        rows.append(
            {
                "task": r.task_id, "kind": r.kind, "graph": r.graph, "status": r.status,
                "correct": bool(r.correct), "reason": r.reason or r.error or "",
                "answer": answer if len(answer) <= 80 else answer[:77] + "...",
                "tokens": r.prompt_tokens + r.completion_tokens, "latency_s": r.latency_s,
            }
        )  # fmt: skip
    return rows


# --- the simulated sweep -------------------------------------------------------------------


class SimulatedResult(BaseModel):
    """What :func:`run_simulated` did."""

    out_dir: str
    report: str | None
    """``report.html``, once written."""
    model: str
    """The simulated model's name in records."""
    tasks: int
    setup: str
    """How the simulator was configured (questions, accuracies, verifier), one line."""
    note: str
    """What the report says about the run being simulated and the prices illustrative."""
    rows: list[dict[str, Any]] = Field(default_factory=list)
    """Per graph: label, family, accuracy and its 95% interval, cost and samples per task."""
    seconds: float = 0.0


def simulated_note(setup: str) -> str:
    """The report's note on a simulated sweep."""
    price = f"${SIM_PRICE[0]:.2f} / ${SIM_PRICE[1]:.2f} per 1M input / output tokens"
    return (
        f"Simulated model: every answer came from the thinktank simulator serving the bundled "
        f"math suite ({setup}). Accuracies are what that configuration produces, not a "
        f"measurement of any real model; they show how the graphs trade cost for accuracy "
        f"when samples are right with those probabilities. Costs use illustrative prices "
        f"({price})."
    )


async def run_simulated(
    out_dir: str | Path,
    *,
    simulation: Any = None,
    graphs: Sequence[str] = SIM_GRAPHS,
    suite_options: dict[str, Any] | None = None,
    concurrency: int = 16,
    seed: int = 0,
    progress: bool | None = None,
) -> SimulatedResult:
    """Run the ``math`` suite through ``graphs`` against the simulator serving it.

    ``simulation`` is a :class:`~thinktank.evals.tasks.simulated.SuiteSimulation` (default:
    the seeded default spread); the simulator runs in its own process for the run.
    """
    import asyncio

    from thinktank.evals.reports.metrics import graph_stats
    from thinktank.evals.reports.report import write_report
    from thinktank.evals.runs.records import RunDatabase
    from thinktank.evals.runs.runner import Runner
    from thinktank.evals.runs.sweep import expand_graphs
    from thinktank.evals.tasks.simulated import SuiteSimulation, describe, simulator_config
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.llm.pricing import set_price
    from thinktank.llm.simulator import SimulatorProcess

    t0 = time.perf_counter()
    out = Path(out_dir)
    sim_cfg = simulation or SuiteSimulation()
    options = dict(suite_options or {})
    tasks = load_suite("math", **options)
    config = simulator_config(tasks, sim_cfg)
    synth = config.synthetic
    assert synth is not None and synth.tasks is not None
    setup = (
        f"{describe(synth.tasks, sim_cfg)}; verifier TPR {synth.verifier_tpr:g}, "
        f"FPR {synth.verifier_fpr:g}"
    )
    set_price(SIM_MODEL, *SIM_PRICE)
    server = SimulatorProcess(config)
    await asyncio.to_thread(server.start)
    try:
        model = server.model(SIM_MODEL, concurrency=2 * concurrency)
        runner = Runner(
            tasks, expand_graphs(graphs), model, out_dir=out, concurrency=concurrency, seed=seed,
            progress=progress, suite=SIM_SUITE_LABEL, suite_options=options,
            environment_options={"math": {"python": False}},  # the simulator calls no tools
        )  # fmt: skip
        try:
            await runner.run()
        finally:
            await model.aclose()
    finally:
        await asyncio.to_thread(server.stop)
    note = simulated_note(setup)
    with RunDatabase.open(out) as db:
        db.event(None, "note", text=note)
        config_ = db.config()
        stats = graph_stats(db.records(), config_.graphs)
    paths = await _report(write_report, out)
    rows = [
        {
            "graph": s.label, "family": s.family, "accuracy": s.accuracy, "ci_low": s.ci_low,
            "ci_high": s.ci_high, "cost_per_task": s.cost_mean, "samples": s.samples_mean,
            "errors": s.errors,
        }
        for s in stats
    ]  # fmt: skip
    result = SimulatedResult(
        out_dir=str(out), report=next((str(p) for p in paths if p.name == "report.html"), None),
        model=SIM_MODEL, tasks=len(tasks), setup=setup, note=note, rows=rows,
        seconds=time.perf_counter() - t0,
    )  # fmt: skip
    (out / "simulated.json").write_text(json.dumps(result.model_dump(), indent=2), encoding="utf-8")
    return result
