"""The embedded default memory bank: one SQLite file (WAL), BM25 via FTS5, optional vectors.

Retrieval:

* **BM25** over title, description, content and tags (FTS5, weights in
  :class:`~thinktank.memory.config.RankingPolicy`). User text is reduced to
  quoted index terms, so it can never be an FTS5 syntax error.
* **Dense** (when an :class:`~thinktank.memory.embeddings.Embedder` is given):
  cosine top-k over float32 vectors stored in the same file, cached in memory
  until any process changes them.
* **Hybrid**: reciprocal rank fusion of the two rankings.
* **Track record**: the relevance is blended with the item's Beta-posterior
  success rate; demoted items are penalised.

Size cap (``max_items``) and eviction rule: whenever an add (or a consolidation)
leaves more than ``max_items`` items, the surplus is evicted in this order:
demoted items first, then the lowest posterior success rate
``(successes + 1) / (successes + failures + 2)``, then the least recently active
(latest of created, last retrieved, last used), then the oldest row.

Each operation has a synchronous core run on a worker thread by the async API;
the ``*_sync`` methods call the core directly (no event loop per call).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from thinktank._sync import run_sync
from thinktank.errors import ConfigError
from thinktank.memory._apply import apply_consolidation, evict_over_cap
from thinktank.memory._consolidate import DedupRecord, find_duplicates
from thinktank.memory._schema import count_new_terms
from thinktank.memory._search import VectorCache, bm25_candidates, rank
from thinktank.memory._sqlite_io import (
    CHUNK,
    ITEM_COLUMNS,
    UPSERT,
    Database,
    item_row,
    marks,
    row_item,
    ts,
    where_clause,
)
from thinktank.memory.base import MemoryBank
from thinktank.memory.config import ConsolidationPolicy, RankingPolicy
from thinktank.memory.embeddings import (
    Embedder,
    Matrix,
    normalize_rows,
    to_blob,
)
from thinktank.memory.errors import ItemNotFound
from thinktank.memory.types import (
    ConsolidationReport,
    FilterLike,
    ItemLimits,
    MemoryFilter,
    MemoryItem,
    Outcome,
    utcnow,
)


def embed_text(item: MemoryItem) -> str:
    """The text an item is embedded from."""
    return f"{item.title}\n{item.description}\n{item.content}"


class _Rollback(Exception):
    def __init__(self, report: ConsolidationReport) -> None:
        self.report = report


class SQLiteMemoryBank(MemoryBank):
    """A :class:`~thinktank.memory.base.MemoryBank` in one SQLite file, safe for several processes.

    ``path`` may be ``":memory:"`` (private, not shared). ``create=False`` raises
    :class:`~thinktank.memory.errors.MemoryBankNotFound` instead of creating a file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_items: int | None = 100_000,
        embedder: Embedder | None = None,
        ranking: RankingPolicy | None = None,
        consolidation: ConsolidationPolicy | None = None,
        limits: ItemLimits | None = None,
        busy_timeout_s: float = 30.0,
        create: bool = True,
    ) -> None:
        self.db = Database(path, busy_timeout_s=busy_timeout_s, create=create)
        self.path = self.db.path
        self.max_items = max_items
        self.embedder = embedder
        self.ranking = ranking or RankingPolicy()
        self.policy = consolidation or ConsolidationPolicy()
        self.limits = limits or ItemLimits()
        self._cache = VectorCache()

    def __repr__(self) -> str:
        return f"SQLiteMemoryBank({str(self.path)!r})"

    @property
    def migrated(self) -> list[int]:
        """Schema versions applied when this object opened the file (empty if it was current)."""
        return self.db.migrated

    async def aclose(self) -> None:
        self.db.close()

    def close(self) -> None:
        self.db.close()

    # --- async API: the sync cores on a worker thread ------------------------------------

    async def add(self, items: Iterable[MemoryItem]) -> list[str]:
        batch = self._checked(items)
        vecs = await self._embed_items(batch)
        return await asyncio.to_thread(self._add, batch, vecs)

    async def retrieve(
        self, query: str, k: int = 5, filters: FilterLike = None, *, record: bool = True
    ) -> list[MemoryItem]:
        mode = self._mode()
        qvec = (await self.embedder.embed([query]))[0] if mode != "bm25" and self.embedder else None
        return await asyncio.to_thread(self._retrieve, query, k, filters, record, mode, qvec)

    async def scan(
        self, filters: MemoryFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        return await asyncio.to_thread(self._scan, filters, limit, offset)

    async def count(self, filters: MemoryFilter | None = None) -> int:
        return await asyncio.to_thread(self._count, filters)

    async def delete(self, item_ids: Sequence[str]) -> int:
        return await asyncio.to_thread(self._delete, list(item_ids))

    async def record_use(self, item_ids: Sequence[str], outcome: Outcome) -> int:
        return await asyncio.to_thread(self._record_use, list(item_ids), outcome)

    async def consolidate(self, *, dry_run: bool = False) -> ConsolidationReport:
        return await asyncio.to_thread(self._consolidate, dry_run)

    async def resolve(self, prefix: str) -> str:
        """The full id of the one item whose id starts with ``prefix``; raises :class:`ItemNotFound`."""
        return await asyncio.to_thread(self._resolve, prefix)

    async def embed_missing(self, batch_size: int = 256) -> int:
        """Embed items that have no vector from the current embedder; returns how many."""
        if self.embedder is None:
            return 0
        done = 0
        while rows := await asyncio.to_thread(self._unembedded, batch_size):
            vecs = normalize_rows(
                await self.embedder.embed([embed_text(row_item(r)) for r in rows])
            )
            await asyncio.to_thread(self._store_vectors, [r[0] for r in rows], vecs)
            done += len(rows)
        return done

    # --- sync twins that skip the event loop --------------------------------------------

    def add_sync(self, items: Iterable[MemoryItem]) -> list[str]:
        batch = self._checked(items)
        vecs = run_sync(self._embed_items(batch)) if self.embedder is not None else None
        return self._add(batch, vecs)

    def retrieve_sync(
        self, query: str, k: int = 5, filters: FilterLike = None, *, record: bool = True
    ) -> list[MemoryItem]:
        mode = self._mode()
        qvec = None
        if mode != "bm25" and self.embedder is not None:
            qvec = run_sync(self.embedder.embed([query]))[0]
        return self._retrieve(query, k, filters, record, mode, qvec)

    def scan_sync(
        self, filters: MemoryFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        return self._scan(filters, limit, offset)

    def count_sync(self, filters: MemoryFilter | None = None) -> int:
        return self._count(filters)

    def get_sync(self, item_id: str) -> MemoryItem:
        found = self._scan(MemoryFilter(ids=[item_id]), 1, 0)
        if not found:
            raise ItemNotFound(f"no memory item with id {item_id!r}")
        return found[0]

    def delete_sync(self, item_ids: Sequence[str]) -> int:
        return self._delete(list(item_ids))

    def record_use_sync(self, item_ids: Sequence[str], outcome: Outcome) -> int:
        return self._record_use(list(item_ids), outcome)

    def consolidate_sync(self, *, dry_run: bool = False) -> ConsolidationReport:
        return self._consolidate(dry_run)

    # --- writes -------------------------------------------------------------------------

    def _checked(self, items: Iterable[MemoryItem]) -> list[MemoryItem]:
        batch = list({item.id: item for item in items}.values())  # one row per id: the last wins
        for item in batch:
            self.limits.check(item)
        return batch

    async def _embed_items(self, batch: list[MemoryItem]) -> Matrix | None:
        if self.embedder is None or not batch:
            return None
        return normalize_rows(await self.embedder.embed([embed_text(i) for i in batch]))

    def _add(self, batch: list[MemoryItem], vecs: Matrix | None) -> list[str]:
        rows = [item_row(i) for i in batch]
        ids = [i.id for i in batch]

        def tx(conn: sqlite3.Connection) -> None:
            existing = self._rowids(conn, ids)
            conn.executemany(UPSERT, rows)
            # updates keep `terms` right in a trigger; new rows are counted here in bulk
            count_new_terms(conn, [row[-1] for row in rows if row[0] not in existing])
            if vecs is not None:
                rowid = self._rowids(conn, ids)
                self._insert_vectors(conn, [rowid[i] for i in ids], vecs)
            evict_over_cap(conn, self.max_items)

        self.db.write(tx)
        return ids

    @staticmethod
    def _rowids(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(ids), CHUNK):
            part = list(ids[i : i + CHUNK])
            out.update(
                conn.execute(f"SELECT id, rowid FROM items WHERE id IN ({marks(len(part))})", part)
            )
        return out

    def _insert_vectors(self, conn: sqlite3.Connection, rowids: list[int], vecs: Matrix) -> None:
        assert self.embedder is not None
        model = self.embedder.model_id
        conn.executemany(
            "INSERT OR REPLACE INTO vectors(item_rowid, model, vec) VALUES (?, ?, ?)",
            [(r, model, to_blob(v)) for r, v in zip(rowids, vecs, strict=True)],
        )

    def _store_vectors(self, rowids: list[int], vecs: Matrix) -> None:
        self.db.write(lambda conn: self._insert_vectors(conn, rowids, vecs))

    def _unembedded(self, limit: int) -> list[Any]:
        assert self.embedder is not None
        sql = (
            f"SELECT {ITEM_COLUMNS} FROM items i WHERE NOT EXISTS (SELECT 1 FROM vectors v "
            "WHERE v.item_rowid = i.rowid AND v.model = ?) ORDER BY rowid LIMIT ?"
        )
        model = self.embedder.model_id
        return self.db.read(lambda c: c.execute(sql, (model, limit)).fetchall())

    def _delete(self, ids: list[str]) -> int:
        def tx(conn: sqlite3.Connection) -> int:
            n = 0
            for i in range(0, len(ids), CHUNK):
                part = ids[i : i + CHUNK]
                n += conn.execute(
                    f"DELETE FROM items WHERE id IN ({marks(len(part))})", part
                ).rowcount
            return n

        return self.db.write(tx)

    def _record_use(self, ids: list[str], outcome: Outcome) -> int:
        if outcome not in ("success", "failure"):
            raise ValueError(f"outcome must be 'success' or 'failure', not {outcome!r}")
        column = "used_in_success" if outcome == "success" else "used_in_failure"
        ids = list(dict.fromkeys(ids))
        now = ts(utcnow())

        def tx(conn: sqlite3.Connection) -> int:
            n = 0
            for i in range(0, len(ids), CHUNK):
                part = ids[i : i + CHUNK]
                sql = (
                    f"UPDATE items SET {column} = {column} + 1, last_used = ?, last_active = ? "
                    f"WHERE id IN ({marks(len(part))})"
                )
                n += conn.execute(sql, [now, now, *part]).rowcount
            return n

        return self.db.write(tx)

    def _consolidate(self, dry_run: bool) -> ConsolidationReport:
        snapshot = self.db.read(
            lambda c: c.execute(
                "SELECT id, kind, domain, title, content, used_in_success, used_in_failure, "
                "retrieved, created FROM items ORDER BY rowid"
            ).fetchall()
        )
        records = [
            DedupRecord(i, kd, dom, f"{t}\n{c}", s, f, s + f + r, cr)
            for i, kd, dom, t, c, s, f, r, cr in snapshot
        ]
        clusters = find_duplicates(records, self.policy.duplicate_threshold)

        def tx(conn: sqlite3.Connection) -> ConsolidationReport:
            report = apply_consolidation(
                conn, clusters, self.policy, max_items=self.max_items,
                max_tags=self.limits.max_tags, dry_run=dry_run,
            )  # fmt: skip
            if dry_run:
                raise _Rollback(report)
            return report

        try:
            return self.db.write(tx)
        except _Rollback as rb:
            return rb.report

    # --- reads --------------------------------------------------------------------------

    def _scan(
        self, filters: MemoryFilter | None, limit: int | None, offset: int
    ) -> list[MemoryItem]:
        where, params = where_clause(filters)
        sql = f"SELECT {ITEM_COLUMNS} FROM items i WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?"
        args = [*params, -1 if limit is None else limit, offset]
        return [row_item(r) for r in self.db.read(lambda c: c.execute(sql, args).fetchall())]

    def _count(self, filters: MemoryFilter | None) -> int:
        where, params = where_clause(filters)
        sql = f"SELECT count(*) FROM items i WHERE {where}"
        return int(self.db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    def _resolve(self, prefix: str) -> str:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = "SELECT id FROM items WHERE id LIKE ? ESCAPE '\\' LIMIT 3"
        ids = [r[0] for r in self.db.read(lambda c: c.execute(sql, (pattern,)).fetchall())]
        if prefix in ids:
            return prefix
        if len(ids) != 1:
            what = "no memory item" if not ids else "several memory items"
            raise ItemNotFound(f"{what} with an id starting with {prefix!r}")
        return str(ids[0])

    def _mode(self) -> str:
        mode = self.ranking.mode
        if mode == "auto":
            return "hybrid" if self.embedder is not None else "bm25"
        if mode in ("dense", "hybrid") and self.embedder is None:
            raise ConfigError(f"ranking mode {mode!r} needs an embedder (config field 'dense')")
        return mode

    def _retrieve(
        self,
        query: str,
        k: int,
        filters: FilterLike,
        record: bool,
        mode: str,
        qvec: Matrix | None,
    ) -> list[MemoryItem]:
        if k <= 0:
            return []
        pool = max(k, self.ranking.candidates)
        where, params = where_clause(filters)

        def ranked(conn: sqlite3.Connection) -> list[int]:
            lexical = (
                bm25_candidates(conn, query, pool, k, where, params, self.ranking)
                if mode != "dense"
                else []
            )
            dense: list[tuple[int, float]] = []
            if qvec is not None and self.embedder is not None:
                model = self.embedder.model_id
                dense = self._cache.candidates(conn, model, qvec, pool, where, params)
            return rank(conn, lexical, dense, mode, k, self.ranking)

        top = self.db.read(ranked)
        if not top:
            return []
        if record:
            now = ts(utcnow())
            sql = (
                "UPDATE items SET retrieved = retrieved + 1, last_retrieved = ?, last_active = ? "
                f"WHERE rowid IN ({marks(len(top))})"
            )
            self.db.write(lambda c: c.execute(sql, [now, now, *top]))
        select = f"SELECT {ITEM_COLUMNS} FROM items WHERE rowid IN ({marks(len(top))})"
        by_rowid = {r[0]: r for r in self.db.read(lambda c: c.execute(select, top).fetchall())}
        return [row_item(by_rowid[r]) for r in top if r in by_rowid]
