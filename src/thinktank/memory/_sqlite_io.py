"""Connection handling of the SQLite memory bank: opening, transactions, retries, rows.

Several processes may write the same file. WAL mode lets readers run beside one
writer; writers take the lock up front (``BEGIN IMMEDIATE``) so a transaction
never fails half-way on a lock upgrade, wait ``busy_timeout`` inside SQLite, and
on ``SQLITE_BUSY`` retry the whole transaction with jittered backoff until the
configured deadline. One connection per bank object, guarded by a lock, serves
the worker threads the async API runs on.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from thinktank.memory._schema import (
    SCHEMA_VERSION,
    check_file,
    current_version,
    migrate,
    token_columns,
)
from thinktank.memory.base import MemoryItem
from thinktank.memory.errors import (
    CorruptMemoryDatabase,
    MemoryBankNotFound,
    MemoryBusy,
    MemoryStoreError,
)
from thinktank.memory.types import FilterLike, as_filter

T = TypeVar("T")

ITEM_COLUMNS = (
    "rowid, id, title, description, content, kind, domain, tags, provenance, merged_from, "
    "retrieved, used_in_success, used_in_failure, last_used, last_retrieved, demoted"
)
_WRITE_COLUMNS = (
    "id", "title", "description", "content", "kind", "domain", "tags", "provenance",
    "merged_from", "retrieved", "used_in_success", "used_in_failure", "last_used",
    "last_retrieved", "demoted", "created", "last_active",
    "fts_title", "fts_description", "fts_content", "fts_tags", "terms",
)  # fmt: skip
UPSERT = (
    f"INSERT INTO items({', '.join(_WRITE_COLUMNS)}) VALUES ({', '.join('?' * len(_WRITE_COLUMNS))}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _WRITE_COLUMNS[1:])
)


CHUNK = 500  # ids per IN (...) list


def marks(n: int) -> str:
    """``?, ?, …`` with ``n`` placeholders."""
    return ", ".join("?" * n)


def ts(value: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so text order is time order."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def item_row(item: MemoryItem) -> tuple[Any, ...]:
    """The :data:`UPSERT` parameters of ``item``."""
    u, p = item.usage, item.provenance
    active = max(d for d in (p.created, u.last_used, u.last_retrieved) if d is not None)
    return (
        item.id, item.title, item.description, item.content, item.kind, item.domain,
        json.dumps(item.tags), p.model_dump_json(),
        json.dumps([m.model_dump(mode="json") for m in item.merged_from]),
        u.retrieved, u.used_in_success, u.used_in_failure, ts(u.last_used), ts(u.last_retrieved),
        int(item.demoted), ts(p.created), ts(active),
        *token_columns(item.title, item.description, item.content, item.tags),
    )  # fmt: skip


def row_item(row: Sequence[Any]) -> MemoryItem:
    """A :class:`MemoryItem` from a row selected with :data:`ITEM_COLUMNS`."""
    (_, id_, title, desc, content, kind, domain, tags, prov, merged,
     retrieved, succ, fail, last_used, last_retrieved, demoted) = row  # fmt: skip
    return MemoryItem.model_validate(
        {
            "id": id_, "title": title, "description": desc, "content": content, "kind": kind,
            "domain": domain, "tags": json.loads(tags), "provenance": json.loads(prov),
            "merged_from": json.loads(merged), "demoted": bool(demoted),
            "usage": {"retrieved": retrieved, "used_in_success": succ, "used_in_failure": fail,
                      "last_used": last_used, "last_retrieved": last_retrieved},
        }
    )  # fmt: skip


def where_clause(filters: FilterLike, alias: str = "i") -> tuple[str, list[Any]]:
    """SQL conditions (joined by AND, ``1`` when none) and parameters for ``filters``
    (a :class:`MemoryFilter` or its fields as a mapping)."""
    if filters is None:
        return "1", []
    filters = as_filter(filters)
    assert filters is not None
    conds: list[str] = []
    params: list[Any] = []

    def among(column: str, values: Sequence[Any]) -> None:
        conds.append(f"{alias}.{column} IN ({', '.join('?' * len(values))})" if values else "0")
        params.extend(values)

    if filters.kinds is not None:
        among("kind", filters.kinds)
    if filters.domains is not None:
        among("domain", filters.domains)
    if filters.ids is not None:
        among("id", filters.ids)
    if filters.tags:
        each = f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE value = ?)"
        if filters.tags_mode == "all":
            conds.extend(each for _ in filters.tags)
        else:
            conds.append(
                f"EXISTS (SELECT 1 FROM json_each({alias}.tags) "
                f"WHERE value IN ({', '.join('?' * len(filters.tags))}))"
            )
        params.extend(filters.tags)
    if not filters.include_demoted:
        conds.append(f"{alias}.demoted = 0")
    if filters.exclude_tasks:
        some = ", ".join("?" * len(filters.exclude_tasks))
        conds.append(
            f"COALESCE(json_extract({alias}.provenance, '$.task_id'), '') NOT IN ({some}) "
            f"AND NOT EXISTS (SELECT 1 FROM json_each({alias}.merged_from) AS m "
            f"WHERE json_extract(m.value, '$.provenance.task_id') IN ({some}))"
        )
        params.extend([*filters.exclude_tasks, *filters.exclude_tasks])
    return (" AND ".join(conds) or "1"), params


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One connection to a memory bank file with transaction and retry helpers."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float, create: bool) -> None:
        self.memory = str(path) == ":memory:"
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.lock = threading.RLock()
        self.local_writes = 0
        """Commits through this connection (``PRAGMA data_version`` only counts others')."""
        if not self.memory:
            if not check_file(self.path) and not create:
                raise MemoryBankNotFound(
                    f"no memory bank at {self.path}; add items first or pass the right --db path"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(
            ":memory:" if self.memory else str(self.path),
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            version = self.retrying(lambda: current_version(self.conn, self.path))
            if not self.memory:
                self.retrying(lambda: self.conn.execute("PRAGMA journal_mode=WAL").fetchone())
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.migrated: list[int] = []
            if version < SCHEMA_VERSION:
                self.migrated = self.retrying(lambda: migrate(self.conn, self.path))
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def retrying(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying on ``SQLITE_BUSY`` until the busy deadline; translate errors."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.002
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    if time.monotonic() < deadline:
                        time.sleep(delay * random.uniform(0.5, 1.5))
                        delay = min(delay * 2, 0.25)
                        continue
                    raise MemoryBusy(
                        f"{self.path} stayed locked by other writers for over "
                        f"{self.busy_timeout_s:g}s ({exc})"
                    ) from exc
                raise self._translate(exc) from exc
            except sqlite3.DatabaseError as exc:
                raise self._translate(exc) from exc

    def _translate(self, exc: sqlite3.Error) -> Exception:
        text = str(exc).lower()
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return CorruptMemoryDatabase(f"{self.path} is damaged: {exc}")
        return MemoryStoreError(f"memory database {self.path}: {exc}")

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self.lock:
                return fn(self.conn)

        return self.retrying(run)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction, retried as a whole when busy."""

        def run() -> T:
            with self.lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self.conn)
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                self.local_writes += 1
                return out

        return self.retrying(run)
