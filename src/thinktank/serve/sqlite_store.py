"""Served runs in a SQLite file (WAL): ``thinktank serve --store runs.sqlite``.

One row per run: the response id, when, which graph, and the run as JSON. Writes go
through a worker thread so the event loop never waits on the disk; beyond ``keep``
runs the oldest rows are deleted (``keep=0``: every run is kept).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from thinktank.serve.store import StoredRun

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created INTEGER NOT NULL,
    model TEXT NOT NULL,
    run TEXT NOT NULL
)
"""


class SQLiteTraceStore:
    """Served runs in a SQLite file; same contract as the memory store."""

    def __init__(self, path: str | Path, keep: int = 1000) -> None:
        self.path = Path(path)
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()
        self._lock = threading.Lock()

    def _put(self, run: StoredRun) -> None:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR REPLACE INTO runs (id, created, model, run) VALUES (?, ?, ?, ?)",
                (run.id, run.created, run.model, run.model_dump_json()),
            )
            if self.keep:
                self._db.execute(
                    "DELETE FROM runs WHERE seq <= ?", (int(cur.lastrowid or 0) - self.keep,)
                )
            self._db.commit()

    def _get(self, rid: str) -> StoredRun | None:
        with self._lock:
            row = self._db.execute("SELECT run FROM runs WHERE id = ?", (rid,)).fetchone()
        return None if row is None else StoredRun.model_validate_json(row[0])

    async def put(self, run: StoredRun) -> None:
        await asyncio.to_thread(self._put, run)

    async def get(self, rid: str) -> StoredRun | None:
        return await asyncio.to_thread(self._get, rid)

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()
