"""The demo run behind ``thinktank demo``: a small mixed set end to end, with memory.

Three tasks from the bundled suites — a math problem (agents get the ``python``
tool), an SWE instance (a repository in a Docker sandbox, the SWE tools, judged by
the harness in a fresh sandbox) and a web question (the fictional corpus served on
loopback) — each through two graphs: ``single`` and ``best_of_n`` with a verifier.
The :class:`~thinktank.evals.runner.Runner` records every result in the run
directory and streams tasks in order; solvers read a SQLite memory bank in the run
directory and, after each task is judged, a :class:`~thinktank.memory.MemoryLearner`
records which lessons were used and has the model distil new ones (ReasoningBank
extraction with the evaluator's verdict as ground truth, once per task, at most two
items). Then the report (``report.md``, ``report.html``) is written.

:func:`run_demo` is the library entry point (tests pass a scripted model);
:mod:`thinktank.cli.demo` prints what happened.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thinktank.evals.task import Task
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec
from thinktank.llm.base import ChatModel

DEMO_TASKS = {"math": "math-003", "swe": "pagekit", "web": "web-lighthouse-year"}
"""The task of each kind the demo runs (bundled suite ids / SWE folder names)."""


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
    from thinktank.evals.suites import load_suite

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
    from thinktank.evals.report import write_report
    from thinktank.evals.runner import Runner
    from thinktank.memory import LearnerConfig, MemoryLearner, SQLiteMemoryBank
    from thinktank.sandboxes import DockerSandboxConfig

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the run
    tasks = demo_tasks()
    graphs = demo_graphs(samples=samples, max_steps=max_steps, max_tokens=max_tokens)
    provider = provider or DockerSandboxConfig().build()
    bank = SQLiteMemoryBank(out / "memory.sqlite", create=True)
    # one lesson-extraction call per task (not per graph) keeps the demo short
    learner = MemoryLearner(
        model, bank, config=LearnerConfig(mode="reasoningbank", max_items=2, once_per_task=True)
    )
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
    from thinktank.evals.records import RunDatabase

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
