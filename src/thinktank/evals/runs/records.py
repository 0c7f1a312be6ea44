"""The run database: one SQLite file (WAL) per run directory, ``records.sqlite``.

Tables:

* ``run`` — one row: the run config (suite, graphs, models, seed, budget) and its
  fingerprint. A directory created for another config refuses to be reused.
* ``results`` — one row per (graph label, task id), ``UNIQUE(graph, task_id)``: the
  figures of a :class:`~thinktank.evals.runs.run_types.TaskRecord` (answer, usage, cost,
  latency, status, error), its verdict and its whole
  :class:`~thinktank.graphs.result.RunResult` as JSON (trajectories included).
* ``retired`` — errored results replaced by a retry (``--retry-errors``), kept for history.
* ``sessions`` / ``events`` — each invocation (start, end, spend, why it stopped) and
  notable happenings (tasks interrupted by the run budget, hook failures).

Each result is written in one transaction, so a process killed at any moment leaves
every task either fully recorded or absent; absent tasks run again on ``--resume``
and a record is never duplicated or overwritten (only an ``error`` row may be
replaced, and only by a retry). ``synchronous=NORMAL`` in WAL mode survives a killed
process; a power cut may lose the last commits, which then simply run again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from thinktank.errors import UsageError
from thinktank.evals.runs.run_types import RunConfig, TaskRecord
from thinktank.graphs.result import RunResult

DB_NAME = "records.sqlite"
SCHEMA_VERSION = 3
"""2 added ``samples_requested`` and ``refused`` to results (older files gain them, as 0,
on open). 3 stores the typed :class:`~thinktank.graphs.result.RunResult` and
:class:`~thinktank.evals.tasks.evaluators.Verdict`: ``verifications`` (was ``verdicts``),
``budget`` ``null`` without one (was ``{}``). Rows written before stay as they are and load
into the typed records unchanged (the old names are read as the new); a version that
reads up to 2 refuses a schema-3 file instead of silently dropping fields."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    graph TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    answer TEXT,
    expected TEXT,
    correct INTEGER,
    score REAL,
    reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    cost REAL NOT NULL,
    latency_s REAL NOT NULL,
    samples INTEGER NOT NULL,
    sample_correct TEXT,
    attempt INTEGER NOT NULL,
    verdict TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    samples_requested INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    UNIQUE (graph, task_id)
);
CREATE TABLE IF NOT EXISTS retired AS SELECT * FROM results WHERE 0;
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    stop_reason TEXT,
    spent_usd REAL NOT NULL DEFAULT 0,
    options TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session INTEGER,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
"""

_COLUMNS = (
    "graph task_id task_index kind status error answer expected correct score reason "
    "prompt_tokens completion_tokens calls cost latency_s samples sample_correct attempt "
    "verdict result created_at samples_requested refused"
).split()
_ADDED = {  # columns added after schema 1, with their definitions (migrated on open)
    "samples_requested": "INTEGER NOT NULL DEFAULT 0",
    "refused": "INTEGER NOT NULL DEFAULT 0",
}
_LIGHT = [c for c in _COLUMNS if c not in ("result",)]


class ConfigMismatch(UsageError):
    """The run directory holds a run with another configuration."""


class RunDatabase:
    """The records of one run directory; the driver is its only writer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.executescript(_SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            self.conn.close()
            raise UsageError(
                f"{self.path} was written by a newer thinktank (run schema {row[0]}; this "
                f"version reads up to {SCHEMA_VERSION}): upgrade thinktank to read it"
            )
        self._migrate()
        self.conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def _migrate(self) -> None:
        """Bring a file written by an older version to this schema (columns only added)."""
        for table in ("results", "retired"):
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            for col, definition in _ADDED.items():
                if col not in have:
                    try:
                        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {definition}")
                    except sqlite3.OperationalError as exc:  # another reader migrated it first
                        if "duplicate column" not in str(exc):
                            raise

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, out_dir: str | Path) -> RunDatabase:
        """Open an existing run directory's database (reports, inspection)."""
        path = Path(out_dir) / DB_NAME
        if not path.is_file():
            raise UsageError(f"{out_dir} holds no run records ({DB_NAME} is missing)")
        return cls(path)

    @classmethod
    def for_run(cls, out_dir: str | Path, config: RunConfig, *, resume: bool) -> RunDatabase:
        """Create the database of a new run, or check that a resumed one has this config.

        Refuses (:class:`ConfigMismatch`) to mix configurations, and to add to a
        directory that already holds records unless ``resume`` is set.
        """
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        db = cls(Path(out_dir) / DB_NAME)
        fp = config.fingerprint()
        row = db.conn.execute("SELECT fingerprint, config FROM run").fetchone()
        if row is None:
            db.conn.execute(
                "INSERT INTO run VALUES (1, ?, ?, ?)", (fp, config.model_dump_json(), time.time())
            )
            return db
        if row[0] != fp:
            old = RunConfig.model_validate_json(row[1])
            db.close()
            raise ConfigMismatch(
                f"{out_dir} holds a run with another configuration ({old.differences(config)}); "
                "a run directory never mixes configurations. Choose a new directory with "
                "--out DIR, or resume that run with its own settings."
            )
        if not resume and db.count() > 0:
            n = db.count()
            db.close()
            raise UsageError(
                f"{out_dir} already holds {n} records of this run: pass --resume to continue it "
                "(finished tasks are skipped), or choose a new directory with --out DIR"
            )
        # same experiment: keep the latest budget, concurrency and limit
        db.conn.execute("UPDATE run SET config = ? WHERE id = 1", (config.model_dump_json(),))
        return db

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RunDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def config(self) -> RunConfig:
        row = self.conn.execute("SELECT config FROM run").fetchone()
        if row is None:
            raise UsageError(f"{self.path} has no run config (an empty or foreign database)")
        return RunConfig.model_validate_json(row[0])

    def count(self, status: str | None = None) -> int:
        q = "SELECT COUNT(*) FROM results"
        args: tuple[str, ...] = ()
        if status is not None:
            q, args = q + " WHERE status = ?", (status,)
        return int(self.conn.execute(q, args).fetchone()[0])

    def keys(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(graph, task id) → (status, attempt) of every recorded result."""
        rows = self.conn.execute("SELECT graph, task_id, status, attempt FROM results")
        return {(g, t): (s, a) for g, t, s, a in rows}

    def accuracy(self, exclude_tasks: Iterable[str] = ()) -> dict[str, float | None]:
        """Graph label → accuracy over its judged, non-error records (but those of
        ``exclude_tasks``: a memory split's learning part)."""
        skip = sorted(set(exclude_tasks))
        rows = self.conn.execute(
            "SELECT graph, COUNT(correct), COALESCE(SUM(correct), 0) FROM results "
            f"WHERE status != 'error' AND task_id NOT IN ({', '.join('?' * len(skip))}) "
            "GROUP BY graph",
            skip,
        )
        return {g: (c / n if n else None) for g, n, c in rows}

    def spent_usd(self) -> float:
        """Money spent by the run: results, retired (retried) results and interrupted jobs."""
        q = "SELECT COALESCE(SUM(cost), 0) FROM {}"
        total = sum(
            float(self.conn.execute(q.format(t)).fetchone()[0]) for t in ("results", "retired")
        )
        return total + sum(float(e.get("cost") or 0) for e in self.events("interrupted"))

    def run_spent_usd(self, records: list[TaskRecord] | None = None) -> float:
        """What the run has spent over all its sessions: the larger of what its records
        account for (results, retired results, interrupted jobs, judging) and what its
        finished sessions reported (which also counts a hook's calls). ``records``: the
        run's :meth:`records`, when the caller has them already."""
        judging = sum(r.evaluation_cost for r in (self.records() if records is None else records))
        sessions = self.conn.execute(
            "SELECT COALESCE(SUM(spent_usd), 0) FROM sessions WHERE ended_at IS NOT NULL"
        ).fetchone()[0]
        return max(self.spent_usd() + judging, float(sessions))

    def tally(self) -> tuple[int, int, float]:
        """(judged, correct, cost) over the recorded results that are not errors."""
        row = self.conn.execute(
            "SELECT COUNT(correct), COALESCE(SUM(correct), 0), COALESCE(SUM(cost), 0) "
            "FROM results WHERE status != 'error'"
        ).fetchone()
        return int(row[0]), int(row[1]), float(row[2])

    def records(self, *, with_result: bool = False) -> list[TaskRecord]:
        """Every result, in task order then graph; ``with_result`` also loads the RunResult JSON."""
        cols = _COLUMNS if with_result else _LIGHT
        rows = self.conn.execute(
            f"SELECT {', '.join(cols)} FROM results ORDER BY task_index, graph"
        ).fetchall()
        return [TaskRecord.from_row(dict(zip(cols, r, strict=True))) for r in rows]

    def result(self, graph: str, task_id: str) -> RunResult | None:
        """The whole :class:`~thinktank.graphs.result.RunResult` of one record (``None``
        when there is no record, or its graph never finished)."""
        row = self.conn.execute(
            "SELECT result FROM results WHERE graph = ? AND task_id = ?", (graph, task_id)
        ).fetchone()
        data = json.loads(row[0]) if row and row[0] else None
        return RunResult.model_validate(data) if data else None

    def sessions(self) -> list[dict[str, Any]]:
        cols = ["id", "started_at", "ended_at", "status", "stop_reason", "spent_usd", "options"]
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM sessions ORDER BY id")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT session, at, kind, data FROM events"
        rows = self.conn.execute(q + (" WHERE kind = ?" if kind else ""), (kind,) if kind else ())
        return [{"session": s, "at": a, "kind": k, **json.loads(d)} for s, a, k, d in rows]

    # --- writing -------------------------------------------------------------------------

    def append(self, rec: TaskRecord, *, replace_error: bool = False) -> bool:
        """Record one result in one transaction. Returns False when it already exists.

        With ``replace_error`` an existing ``error`` row for the same key is moved to
        ``retired`` first; a finished row is never replaced.
        """
        values = rec.row()
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if replace_error:
                where = "graph = ? AND task_id = ? AND status = 'error'"
                c.execute(f"INSERT INTO retired SELECT * FROM results WHERE {where}", values[:2])
                c.execute(f"DELETE FROM results WHERE {where}", values[:2])
            c.execute(
                f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )
        except sqlite3.IntegrityError:
            c.execute("ROLLBACK")
            return False
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return True

    def start_session(self, options: dict[str, Any]) -> int:
        cur = self.conn.execute(
            "INSERT INTO sessions (started_at, status, options) VALUES (?, 'running', ?)",
            (time.time(), json.dumps(options, default=str)),
        )
        return int(cur.lastrowid or 0)

    def end_session(self, session: int, *, status: str, stop_reason: str, spent_usd: float) -> None:
        self.conn.execute(
            "UPDATE sessions SET ended_at = ?, status = ?, stop_reason = ?, spent_usd = ? WHERE id = ?",
            (time.time(), status, stop_reason, spent_usd, session),
        )

    def event(self, session: int | None, kind: str, **data: Any) -> None:
        self.conn.execute(
            "INSERT INTO events (session, at, kind, data) VALUES (?, ?, ?, ?)",
            (session, time.time(), kind, json.dumps(data, default=str)),
        )

    def iter_results(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(graph, task id, RunResult JSON) of every result, lazily (the viewer's source)."""
        for g, t, r in self.conn.execute(
            "SELECT graph, task_id, result FROM results ORDER BY task_index, graph"
        ):
            yield g, t, (json.loads(r) if r else {})


class RunDirLock:
    """An exclusive lock on a run directory (``.lock``), released on close or process death."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing releases the lock (so does the kernel if we are killed)
            self.fd = -1


def lock_run_dir(out_dir: str | Path) -> RunDirLock:
    """Lock ``out_dir`` for one writer; a second live process is refused with a message."""
    fd = os.open(Path(out_dir) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(
            f"another thinktank process is running in {out_dir}; wait for it, or choose a "
            "new directory with --out DIR"
        ) from None
    return RunDirLock(fd)


def write_run_json(out_dir: Path, config: RunConfig) -> None:
    """``run.json``, a readable copy of the config; ``kind`` tells ``thinktank report``
    what ran here."""
    tmp = out_dir / "run.json.tmp"
    tmp.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(out_dir / "run.json")
