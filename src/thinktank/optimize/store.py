"""The optimizer's SQLite file: the evaluation cache and the spend journal.

* ``outcomes`` — one :class:`~thinktank.optimize.objective.TaskOutcome` per
  (graph key, task key, seed). The same graph on the same task with the same seed
  is never run twice: not by another trial, not after a crash, not by another study
  sharing the file. ``computed`` counts fresh computations of a key (always 1).
* ``spend`` — what each study spent. Before a task runs, a *pending* row holds its
  worst-case cost; when the task ends, the row is settled to the real cost in the
  same transaction that caches the outcome. A process killed mid-task leaves its
  pending rows behind; they stay charged at the worst case, so a resumed study
  never believes it spent less than it may have.

WAL mode, one transaction per task: a kill at any moment leaves each task either
fully recorded (outcome and settled spend) or only pending.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from thinktank.optimize.objective import TaskOutcome

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    key TEXT NOT NULL,
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    computed INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    PRIMARY KEY (key, task, seed)
);
CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY,
    study TEXT NOT NULL,
    amount REAL NOT NULL,
    pending INTEGER NOT NULL,
    owner TEXT NOT NULL,
    note TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_study ON spend (study, pending);
"""


def task_key(task: Task) -> str:
    """The task id plus a hash of its content (a changed task is a new task)."""
    blob = task.model_dump_json(exclude={"metadata"}) + json.dumps(
        task.metadata, sort_keys=True, default=str
    )
    return f"{task.id}#{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def graph_key(spec_key: str, fingerprint: dict[str, object]) -> str:
    """Cache key of a graph under an evaluator (its models, judge…)."""
    blob = json.dumps(fingerprint, sort_keys=True, default=str)
    return f"{spec_key}:{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


class EvalStore:
    """The cache and spend journal in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.owner = uuid.uuid4().hex[:12]
        """This process's session id (pending rows of other sessions are stale)."""

    def close(self) -> None:
        self.conn.close()

    # --- cache -----------------------------------------------------------------------

    def get_many(self, key: str, tasks: Iterable[str], seed: int) -> dict[str, TaskOutcome]:
        """Cached outcomes of ``key`` on the given task keys (missing ones left out)."""
        wanted = list(tasks)
        out: dict[str, TaskOutcome] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT task, outcome FROM outcomes WHERE key = ? AND seed = ? AND task IN ({marks})",
                [key, seed, *chunk],
            )
            for task, blob in rows:
                out[task] = TaskOutcome.model_validate_json(blob)
        return out

    def computed_counts(self) -> dict[tuple[str, str, int], int]:
        """How many times each cached key was computed fresh (1 unless work was repeated)."""
        rows = self.conn.execute("SELECT key, task, seed, computed FROM outcomes")
        return {(k, t, s): c for k, t, s, c in rows}

    def size(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])

    # --- spend ---------------------------------------------------------------------------

    def hold(self, study: str, amount: float, note: str = "") -> int:
        """A pending charge of ``amount`` (a task's worst case) before it runs."""
        cur = self.conn.execute(
            "INSERT INTO spend (study, amount, pending, owner, note, created_at) "
            "VALUES (?, ?, 1, ?, ?, ?)",
            (study, amount, self.owner, note, time.time()),
        )
        return int(cur.lastrowid or 0)

    def settle(
        self,
        hold: int,
        amount: float,
        *,
        key: str | None = None,
        task: str | None = None,
        seed: int = 0,
        outcome: TaskOutcome | None = None,
    ) -> None:
        """Settle a pending charge to the real cost, caching the outcome in the same transaction."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "UPDATE spend SET amount = ?, pending = 0 WHERE id = ?", (amount, hold)
            )
            if outcome is not None and key is not None and task is not None:
                self.conn.execute(
                    "INSERT INTO outcomes (key, task, seed, outcome, computed, created_at) "
                    "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (key, task, seed) DO UPDATE SET "
                    "outcome = excluded.outcome, computed = outcomes.computed + 1",
                    (key, task, seed, outcome.model_dump_json(), time.time()),
                )

    def charge(self, study: str, amount: float, note: str) -> None:
        """A settled charge (spend outside a task, e.g. an LLM feedback step)."""
        self.conn.execute(
            "INSERT INTO spend (study, amount, pending, owner, note, created_at) "
            "VALUES (?, ?, 0, ?, ?, ?)",
            (study, amount, self.owner, note, time.time()),
        )

    def adopt_stale(self, study: str) -> tuple[int, float]:
        """Settle pending rows left by a killed session at their worst case; returns (rows, $)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            rows, amount = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM spend "
                "WHERE study = ? AND pending = 1 AND owner != ?",
                (study, self.owner),
            ).fetchone()
            self.conn.execute(
                "UPDATE spend SET pending = 0, note = 'interrupted by a crash; charged at its "
                "worst case' WHERE study = ? AND pending = 1 AND owner != ?",
                (study, self.owner),
            )
        return int(rows), float(amount)

    def spent(self, study: str) -> float:
        """Everything the study spent, pending worst cases included."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM spend WHERE study = ?", (study,)
        ).fetchone()
        return float(row[0])
