"""A runner process killed with SIGKILL mid-run resumes to completion with exactly one
record per (graph, task): the CLI runs in a child process against a loopback
simulator, is killed twice at arbitrary moments, and a resume finishes the run."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from thinktank.evals.reports.report import load_report_data
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.runs.sweep import expand_graphs
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.llm.simulator import (
    Latency,
    SimulatorConfig,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
)

GRAPHS = ["single", "best_of_n:n=2"]
N_TASKS = 40


def _count(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def _eval(tasks: Path, out: Path, url: str, *, resume: bool) -> subprocess.Popen[bytes]:
    args = ["eval", "--suite", str(tasks), "--model", f"openai:sim@{url}", "--out", str(out)]
    args += ["--concurrency", "4", "--no-report", *(["--resume"] if resume else [])]
    for g in GRAPHS:
        args += ["--graph", g]
    code = "from thinktank.cli.app import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _kill_when(proc: subprocess.Popen[bytes], db: Path, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while _count(db) < at_least:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return _count(db)


def test_sigkilled_run_resumes_without_duplicates_or_losses(tmp_path: Path) -> None:
    qs = TaskSet.generate(N_TASKS, seed=11, p_correct=[0.9, 0.5])
    tasks = tmp_path / "tasks.jsonl"
    dump_tasks(
        [Task(id=q.id, kind="text", prompt=q.question, expected=q.answer) for q in qs.questions],
        tasks,
    )
    out = tmp_path / "run"
    db = out / "records.sqlite"
    config = SimulatorConfig(synthetic=SyntheticConfig(tasks=qs), latency=Latency(ms=15))
    total = N_TASKS * len(GRAPHS)
    with SimulatorServer(config) as sim:
        first = _kill_when(_eval(tasks, out, sim.base_url, resume=False), db, 8)
        notes = load_report_data(out, plots=False).notes()  # a killed run still reports
        assert any("did not finish (killed?)" in n for n in notes)
        second = _kill_when(_eval(tasks, out, sim.base_url, resume=True), db, first + 20)
        assert 8 <= first < second < total
        # the same run continued through the API (the CLI's config is the API's config)
        summary = Runner(
            load_suite(str(tasks)), expand_graphs(GRAPHS), f"openai:sim@{sim.base_url}",
            out_dir=out, resume=True, suite=str(tasks.resolve()), concurrency=4, progress=False,
        ).run_sync()  # fmt: skip
        assert summary.complete and summary.skipped == second
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT graph, task_id, result FROM results").fetchall()
    conn.close()
    assert len(rows) == total
    assert len({(g, t) for g, t, _ in rows}) == total  # exactly one record per (graph, task)
    assert {t for _, t, _ in rows} == {q.id for q in qs.questions}
    assert all(json.loads(r)["trace"]["outputs"] for _, _, r in rows)  # complete records only
    with RunDatabase.open(out) as rdb:
        sessions = rdb.sessions()
    assert [s["status"] for s in sessions] == ["running", "running", "completed"]  # two were killed
