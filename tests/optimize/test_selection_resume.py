"""A study killed (SIGKILL) while it re-evaluates its top candidates resumes there: no
cached task runs again, and it declares what an uninterrupted study declares."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.optimize import lucky as K
from thinktank.optimize import EvalStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG: dict[str, object] = {"concurrency": 2}
CONFIRM_RUNS = 2 * 30
"""Confirmation tasks of the whole step: two candidates (the weak graph is excluded)."""


def _confirm_rows(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM outcomes WHERE task LIKE 'confirm-%'"
            ).fetchone()
        return int(n)
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def test_a_study_killed_during_re_evaluation_resumes_without_repeating_tasks(
    tmp_path: Path,
) -> None:
    out, ref = tmp_path / "killed", tmp_path / "reference"
    # 50 ms per call, two tasks at a time: the confirmation step takes seconds
    with K.simulator(latency_ms=50) as (sim, pool):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.optimize._lucky_child", str(out), sim.base_url],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        db = out / "evals.db"
        deadline = time.monotonic() + 180  # a hang guard, not a timing assertion
        while _confirm_rows(db) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        done_before = _confirm_rows(db)
        assert 3 <= done_before < CONFIRM_RUNS, "not killed during the re-evaluation"
        before = EvalStore(db).computed_counts()

        resumed = K.study(pool, out, **CONFIG).run_sync()
    with K.simulator() as (_, pool):  # the same landscape without the latency
        reference = K.study(pool, ref, **CONFIG).run_sync()

    counts = EvalStore(db).computed_counts()
    assert set(counts.values()) == {1}, "a cached task ran again"
    assert set(before) <= set(counts)
    assert len(counts) == 3 * 10 + CONFIRM_RUNS + 2 * 20
    assert resumed.sessions == 2
    a, b = resumed.selection, reference.selection
    assert a is not None and b is not None
    assert a.status == b.status == "confirmed" and a.holdout_status == "evaluated"
    assert resumed.best is not None and reference.best is not None
    assert (
        resumed.best.key == reference.best.key and K.model_of(resumed.best.description) == "sound"
    )
    assert [c.model_dump() for c in a.candidates] == [c.model_dump() for c in b.candidates]
    # what the killed session had in flight stays charged at its worst case: never less
    assert resumed.spent_usd >= reference.spent_usd - 1e-12
