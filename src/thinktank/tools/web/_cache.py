"""Search-result cache: an in-memory LRU in front of an optional SQLite file (WAL).

Keys are hashes of (backend chain, query, result count); entries expire after a TTL.
The SQLite layer survives restarts and is shared safely between processes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from thinktank.errors import ConfigError
from thinktank.tools.web.backends.base import SearchResult


def cache_key(*parts: object) -> str:
    """Stable hash of the parts that define a search."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class SearchCache:
    """``get``/``put`` lists of :class:`SearchResult` by key, with a TTL."""

    def __init__(
        self, *, ttl_s: float, memory_entries: int = 512, path: Path | None = None
    ) -> None:
        self.ttl_s = ttl_s
        self.memory_entries = memory_entries
        self._memory: OrderedDict[str, tuple[float, list[SearchResult]]] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(
                    path, check_same_thread=False, isolation_level=None, timeout=30
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS search_cache (key TEXT PRIMARY KEY, created REAL NOT NULL, results TEXT NOT NULL)"
                )
            except sqlite3.DatabaseError as exc:
                raise ConfigError(
                    f"{path} is not a usable search cache ({exc}); pass another cache_path"
                ) from exc

    def get(self, key: str) -> list[SearchResult] | None:
        now = time.time()
        with self._lock:
            hit = self._memory.get(key)
            if hit and now - hit[0] < self.ttl_s:
                self._memory.move_to_end(key)
                return list(hit[1])
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT created, results FROM search_cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None or now - row[0] >= self.ttl_s:
            return None
        results = [SearchResult.model_validate(r) for r in json.loads(row[1])]
        self._remember(key, row[0], results)
        return results

    def put(self, key: str, results: list[SearchResult]) -> None:
        created = time.time()
        self._remember(key, created, results)
        if self._db is not None:
            payload = json.dumps([r.model_dump() for r in results])
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO search_cache VALUES (?, ?, ?)", (key, created, payload)
                )

    def _remember(self, key: str, created: float, results: list[SearchResult]) -> None:
        if self.memory_entries <= 0:
            return
        with self._lock:
            self._memory[key] = (created, list(results))
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_entries:
                self._memory.popitem(last=False)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
