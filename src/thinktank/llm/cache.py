"""Response cache: SQLite (WAL), safe across processes, opt-in.

The key is a hash of the canonical request (messages, sampling parameters, tools,
model — everything except ``n``) plus a *sample index*. The k-th sample asked for
a given request within one cache session gets index k, so N samples of one prompt
are N entries whether they were asked as one ``n=N`` call or as N calls, and a
re-run of a whole experiment (a new session) is served entirely from the cache.

Modes: ``read_write`` (default: serve hits, store misses) and ``replay`` (a miss
raises :class:`~thinktank.errors.CacheMiss`, so a rerun provably sends nothing).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from thinktank.errors import CacheMiss, ConfigError
from thinktank.llm.types import Completion

CacheMode = Literal["read_write", "replay"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    completion TEXT NOT NULL,
    PRIMARY KEY (key, idx)
) WITHOUT ROWID;
"""


def request_key(payload: dict[str, Any]) -> str:
    """Stable hash of a canonical request payload."""
    blob = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A SQLite-backed store of completions keyed by (request hash, sample index)."""

    def __init__(self, path: str | Path, *, mode: CacheMode = "read_write") -> None:
        if mode not in ("read_write", "replay"):
            raise ConfigError(f"unknown cache mode {mode!r}; use 'read_write' or 'replay'")
        self.path = Path(path)
        self.mode: CacheMode = mode
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counters: dict[str, int] = defaultdict(int)
        self.hits = 0
        self.misses = 0
        try:
            self._db = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{self.path} is not a usable response cache ({exc}); pass another path"
            ) from exc

    def claim(self, key: str, n: int) -> list[int]:
        """Reserve the next ``n`` sample indices of ``key`` for this session."""
        with self._lock:
            start = self._counters[key]
            self._counters[key] = start + n
        return list(range(start, start + n))

    def reset_counters(self) -> None:
        """Start a new session: the next request of each key gets index 0 again."""
        with self._lock:
            self._counters.clear()

    def get(self, key: str, indices: list[int]) -> dict[int, Completion]:
        if not indices:
            return {}
        marks = ",".join("?" * len(indices))
        with self._lock:
            rows = self._db.execute(
                f"SELECT idx, completion FROM responses WHERE key = ? AND idx IN ({marks})",
                [key, *indices],
            ).fetchall()
        found = {int(i): Completion.model_validate_json(c) for i, c in rows}
        self.hits += len(found)
        self.misses += len(indices) - len(found)
        if self.mode == "replay" and len(found) < len(indices):
            missing = sorted(set(indices) - set(found))
            raise CacheMiss(
                f"response cache {self.path} (replay mode) has no entry for request {key[:12]}… "
                f"sample(s) {missing}; rerun in read_write mode to fill it"
            )
        return found

    def put(self, key: str, model: str, items: dict[int, Completion]) -> None:
        if not items:
            return
        now = time.time()
        rows = [(key, i, model, now, c.model_dump_json()) for i, c in items.items()]
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, idx, model, created, completion) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
