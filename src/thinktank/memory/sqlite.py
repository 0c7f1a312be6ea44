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
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thinktank.memory._consolidate import DedupRecord, find_duplicates
from thinktank.memory._rank import (
    blend,
    normalize_bm25,
    plan_match,
    query_terms,
    reciprocal_rank_fusion,
)
from thinktank.memory._schema import EVICTION_ORDER
from thinktank.memory._sqlite_io import (
    ITEM_COLUMNS,
    UPSERT,
    Database,
    item_row,
    row_item,
    ts,
    where_clause,
)
from thinktank.memory.base import (
    ConsolidationReport,
    ItemLimits,
    MemoryBank,
    MemoryFilter,
    MemoryItem,
    MergedOrigin,
    Outcome,
    utcnow,
)
from thinktank.memory.config import ConsolidationPolicy, RankingPolicy
from thinktank.memory.embeddings import (
    Embedder,
    Matrix,
    cosine_top_k,
    from_blob,
    normalize_rows,
    to_blob,
)
from thinktank.memory.errors import ItemNotFound

log = logging.getLogger("thinktank.memory")
_CHUNK = 500  # ids per IN (...) list


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def embed_text(item: MemoryItem) -> str:
    """The text an item is embedded from."""
    return f"{item.title}\n{item.description}\n{item.content}"


@dataclass
class _Vectors:
    epoch: int
    rowids: np.ndarray
    matrix: Matrix


class _Rollback(Exception):
    def __init__(self, report: ConsolidationReport) -> None:
        self.report = report


class SQLiteMemoryBank(MemoryBank):
    """A :class:`~thinktank.memory.base.MemoryBank` in one SQLite file, safe for several processes."""

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
        self._vectors: _Vectors | None = None

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

    # --- writes -----------------------------------------------------------------------

    async def add(self, items: Iterable[MemoryItem]) -> list[str]:
        batch = list(items)
        for item in batch:
            self.limits.check(item)
        vecs = None
        if self.embedder is not None and batch:
            vecs = normalize_rows(await self.embedder.embed([embed_text(i) for i in batch]))
        return await asyncio.to_thread(self._add, batch, vecs)

    def _add(self, batch: list[MemoryItem], vecs: Matrix | None) -> list[str]:
        rows = [item_row(i) for i in batch]
        ids = [i.id for i in batch]

        def tx(conn: sqlite3.Connection) -> None:
            conn.executemany(UPSERT, rows)
            if vecs is not None and self.embedder is not None:
                rowid = self._rowids(conn, ids)
                model = self.embedder.model_id
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors(item_rowid, model, vec) VALUES (?, ?, ?)",
                    [(rowid[i], model, to_blob(v)) for i, v in zip(ids, vecs, strict=True)],
                )
            self._enforce_cap(conn)

        self.db.write(tx)
        return ids

    @staticmethod
    def _rowids(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in _chunks(ids):
            q = f"SELECT id, rowid FROM items WHERE id IN ({', '.join('?' * len(part))})"
            out.update(conn.execute(q, list(part)).fetchall())
        return out

    def _enforce_cap(self, conn: sqlite3.Connection) -> list[str]:
        if self.max_items is None:
            return []
        surplus = conn.execute("SELECT count(*) FROM items").fetchone()[0] - self.max_items
        if surplus <= 0:
            return []
        victims = conn.execute(
            f"SELECT rowid, id FROM items ORDER BY {EVICTION_ORDER} LIMIT ?", (surplus,)
        ).fetchall()
        for part in _chunks([r for r, _ in victims]):
            conn.execute(f"DELETE FROM items WHERE rowid IN ({', '.join('?' * len(part))})", part)
        log.info(
            "memory %s: evicted %d item(s) over the cap of %d", self.path, surplus, self.max_items
        )
        return [i for _, i in victims]

    async def delete(self, item_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(item_ids))

        def tx(conn: sqlite3.Connection) -> int:
            n = 0
            for part in _chunks(ids):
                q = f"DELETE FROM items WHERE id IN ({', '.join('?' * len(part))})"
                n += conn.execute(q, list(part)).rowcount
            return n

        return await asyncio.to_thread(self.db.write, tx)

    async def record_use(self, item_ids: Sequence[str], outcome: Outcome) -> int:
        if outcome not in ("success", "failure"):
            raise ValueError(f"outcome must be 'success' or 'failure', not {outcome!r}")
        column = "used_in_success" if outcome == "success" else "used_in_failure"
        ids = list(dict.fromkeys(item_ids))
        now = ts(utcnow())

        def tx(conn: sqlite3.Connection) -> int:
            n = 0
            for part in _chunks(ids):
                q = (
                    f"UPDATE items SET {column} = {column} + 1, last_used = ?, last_active = ? "
                    f"WHERE id IN ({', '.join('?' * len(part))})"
                )
                n += conn.execute(q, [now, now, *part]).rowcount
            return n

        return await asyncio.to_thread(self.db.write, tx)

    async def embed_missing(self, batch_size: int = 256) -> int:
        """Embed items that have no vector from the current embedder; returns how many."""
        if self.embedder is None:
            return 0
        model, done = self.embedder.model_id, 0
        while True:
            rows = await asyncio.to_thread(
                self.db.read,
                lambda c: c.execute(
                    f"SELECT {ITEM_COLUMNS} FROM items i WHERE NOT EXISTS (SELECT 1 FROM vectors v "
                    "WHERE v.item_rowid = i.rowid AND v.model = ?) ORDER BY rowid LIMIT ?",
                    (model, batch_size),
                ).fetchall(),
            )
            if not rows:
                return done
            vecs = normalize_rows(
                await self.embedder.embed([embed_text(row_item(r)) for r in rows])
            )
            await asyncio.to_thread(
                self.db.write,
                lambda c, rows=rows, vecs=vecs: c.executemany(
                    "INSERT OR REPLACE INTO vectors(item_rowid, model, vec) VALUES (?, ?, ?)",
                    [(r[0], model, to_blob(v)) for r, v in zip(rows, vecs, strict=True)],
                ),
            )
            done += len(rows)

    # --- reads ------------------------------------------------------------------------

    async def scan(
        self, filters: MemoryFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        where, params = where_clause(filters)
        q = f"SELECT {ITEM_COLUMNS} FROM items i WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?"
        args = [*params, -1 if limit is None else limit, offset]
        rows = await asyncio.to_thread(self.db.read, lambda c: c.execute(q, args).fetchall())
        return [row_item(r) for r in rows]

    async def count(self, filters: MemoryFilter | None = None) -> int:
        where, params = where_clause(filters)
        q = f"SELECT count(*) FROM items i WHERE {where}"
        return int(
            await asyncio.to_thread(self.db.read, lambda c: c.execute(q, params).fetchone()[0])
        )

    async def resolve(self, prefix: str) -> str:
        """The full id of the one item whose id starts with ``prefix``; raises :class:`ItemNotFound`."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await asyncio.to_thread(
            self.db.read,
            lambda c: c.execute(
                "SELECT id FROM items WHERE id LIKE ? ESCAPE '\\' LIMIT 3", (pattern,)
            ).fetchall(),
        )
        ids = [r[0] for r in rows]
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
            from thinktank.errors import ConfigError

            raise ConfigError(f"ranking mode {mode!r} needs an embedder (config field 'dense')")
        return mode

    async def retrieve(
        self, query: str, k: int = 5, filters: MemoryFilter | None = None, *, record: bool = True
    ) -> list[MemoryItem]:
        if k <= 0:
            return []
        mode = self._mode()
        qvec = None
        if mode != "bm25" and self.embedder is not None:
            qvec = (await self.embedder.embed([query]))[0]
        return await asyncio.to_thread(self._retrieve, query, k, filters, record, mode, qvec)

    def _retrieve(
        self,
        query: str,
        k: int,
        filters: MemoryFilter | None,
        record: bool,
        mode: str,
        qvec: Matrix | None,
    ) -> list[MemoryItem]:
        pool = max(k, self.ranking.candidates)
        where, params = where_clause(filters)

        def ranked(conn: sqlite3.Connection) -> list[int]:
            relevance: dict[int, float] = {}
            lexical = self._bm25(conn, query, pool, k, where, params) if mode != "dense" else []
            dense = (
                self._dense(conn, qvec, pool, filters, where, params) if qvec is not None else []
            )
            if mode == "hybrid":
                relevance = reciprocal_rank_fusion(
                    [[r for r, _ in lexical], [r for r, _ in dense]], self.ranking.rrf_k
                )
            elif mode == "bm25":
                relevance = dict(
                    zip(
                        [r for r, _ in lexical],
                        normalize_bm25([s for _, s in lexical]),
                        strict=True,
                    )
                )
            else:
                top = max((s for _, s in dense), default=1.0) or 1.0
                relevance = {r: max(s, 0.0) / top for r, s in dense}
            if not relevance:
                return []
            keys = list(relevance)
            stats = conn.execute(
                "SELECT rowid, used_in_success, used_in_failure, demoted FROM items "
                f"WHERE rowid IN ({', '.join('?' * len(keys))})",
                keys,
            ).fetchall()
            scored = sorted(
                ((blend(relevance[r], s, f, bool(d), self.ranking), r) for r, s, f, d in stats),
                key=lambda x: (-x[0], x[1]),
            )
            return [r for _, r in scored[:k]]

        top = self.db.read(ranked)
        if not top:
            return []
        marks = ", ".join("?" * len(top))
        if record:
            now = ts(utcnow())
            self.db.write(
                lambda c: c.execute(
                    "UPDATE items SET retrieved = retrieved + 1, last_retrieved = ?, last_active = ? "
                    f"WHERE rowid IN ({marks})",
                    [now, now, *top],
                )
            )
        rows = self.db.read(
            lambda c: c.execute(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE rowid IN ({marks})", top
            ).fetchall()
        )
        by_rowid = {r[0]: r for r in rows}
        return [row_item(by_rowid[r]) for r in top if r in by_rowid]

    def _bm25(
        self, conn: sqlite3.Connection, query: str, pool: int, k: int, where: str, params: list[Any]
    ) -> list[tuple[int, float]]:
        cands = query_terms(query)
        if not cands:
            return []
        df = dict(
            conn.execute(
                f"SELECT term, df FROM terms WHERE term IN ({', '.join('?' * len(cands))})", cands
            ).fetchall()
        )
        plan = plan_match(cands, df, self.ranking)
        if plan is None:
            return []
        w = ", ".join(str(float(x)) for x in self.ranking.bm25_weights)
        if where == "1":
            sql = (
                f"SELECT rowid, bm25(items_fts, {w}) AS s FROM items_fts "
                "WHERE items_fts MATCH ? ORDER BY s LIMIT ?"
            )
        else:
            sql = (
                f"SELECT items_fts.rowid, bm25(items_fts, {w}) AS s FROM items_fts "
                f"JOIN items i ON i.rowid = items_fts.rowid WHERE items_fts MATCH ? AND {where} "
                "ORDER BY s LIMIT ?"
            )
        rows = conn.execute(sql, [plan.expression, *params, pool]).fetchall()
        if len(rows) < k and plan.fallback:
            rows = conn.execute(sql, [plan.fallback, *params, pool]).fetchall()
        return [(int(r), float(s)) for r, s in rows]

    def _dense(
        self,
        conn: sqlite3.Connection,
        qvec: Matrix,
        pool: int,
        filters: MemoryFilter | None,
        where: str,
        params: list[Any],
    ) -> list[tuple[int, float]]:
        assert self.embedder is not None
        epoch = conn.execute("SELECT value FROM meta WHERE key = 'vectors_epoch'").fetchone()[0]
        if self._vectors is None or self._vectors.epoch != epoch:
            rows = conn.execute(
                "SELECT item_rowid, vec FROM vectors WHERE model = ? ORDER BY item_rowid",
                (self.embedder.model_id,),
            ).fetchall()
            rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
            matrix = (
                np.stack([from_blob(v) for _, v in rows]) if rows else np.zeros((0, 1), np.float32)
            )
            self._vectors = _Vectors(epoch, rowids, matrix)
        vec = self._vectors
        mask = None
        if where != "1":
            allowed = [
                r for (r,) in conn.execute(f"SELECT rowid FROM items i WHERE {where}", params)
            ]
            mask = np.isin(vec.rowids, np.asarray(allowed, dtype=np.int64))
        idx, sims = cosine_top_k(vec.matrix, qvec, pool, mask)
        return [(int(vec.rowids[i]), float(s)) for i, s in zip(idx, sims, strict=True)]

    # --- consolidation ----------------------------------------------------------------

    async def consolidate(self, *, dry_run: bool = False) -> ConsolidationReport:
        return await asyncio.to_thread(self._consolidate, dry_run)

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
        p = self.policy

        def tx(conn: sqlite3.Connection) -> ConsolidationReport:
            report = ConsolidationReport(dry_run=dry_run)
            report.before = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            for cluster in clusters:
                ids = [r.id for r in cluster]
                q = f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({', '.join('?' * len(ids))})"
                fresh = {row[1]: row_item(row) for row in conn.execute(q, ids)}
                members = [fresh[i] for i in ids if i in fresh]
                if len(members) < 2:
                    continue
                conn.execute(UPSERT, item_row(self._merge(members[0], members[1:])))
                gone = [m.id for m in members[1:]]
                conn.execute(f"DELETE FROM items WHERE id IN ({', '.join('?' * len(gone))})", gone)
                report.merged[members[0].id] = gone
            failing = "used_in_failure >= ? * (used_in_success + used_in_failure)"
            report.evicted = self._ids_where(
                conn, f"demoted = 1 AND used_in_failure >= ? AND {failing}",
                [p.evict_min_failures, p.failure_share], delete=True,
            )  # fmt: skip
            report.demoted = self._ids_where(
                conn, f"demoted = 0 AND used_in_failure >= ? AND {failing}",
                [p.demote_min_failures, p.failure_share], set_demoted=1,
            )  # fmt: skip
            report.restored = self._ids_where(
                conn, f"demoted = 1 AND NOT ({failing})", [p.failure_share], set_demoted=0
            )
            report.evicted += self._enforce_cap(conn)
            conn.execute("DELETE FROM terms WHERE df <= 0")
            report.after = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            if dry_run:
                raise _Rollback(report)
            return report

        try:
            return self.db.write(tx)
        except _Rollback as rb:
            return rb.report

    @staticmethod
    def _ids_where(
        conn: sqlite3.Connection,
        cond: str,
        params: list[Any],
        *,
        delete: bool = False,
        set_demoted: int | None = None,
    ) -> list[str]:
        ids = [
            r[0] for r in conn.execute(f"SELECT id FROM items WHERE {cond} ORDER BY rowid", params)
        ]
        if delete:
            conn.execute(f"DELETE FROM items WHERE {cond}", params)
        elif set_demoted is not None:
            conn.execute(f"UPDATE items SET demoted = {int(set_demoted)} WHERE {cond}", params)
        return ids

    def _merge(self, keep: MemoryItem, rest: Sequence[MemoryItem]) -> MemoryItem:
        """``keep`` with the others' stats summed, tags joined and provenance kept."""
        group = [keep, *rest]
        tags = list(dict.fromkeys(t for m in group for t in m.tags))[: self.limits.max_tags]
        origins = list(keep.merged_from)
        for m in rest:
            origins.append(MergedOrigin(id=m.id, provenance=m.provenance))
            origins.extend(m.merged_from)

        def latest(attr: str) -> Any:
            values = [getattr(m.usage, attr) for m in group if getattr(m.usage, attr) is not None]
            return max(values, default=None)

        usage = keep.usage.model_copy(
            update={
                "retrieved": sum(m.usage.retrieved for m in group),
                "used_in_success": sum(m.usage.used_in_success for m in group),
                "used_in_failure": sum(m.usage.used_in_failure for m in group),
                "last_used": latest("last_used"),
                "last_retrieved": latest("last_retrieved"),
            }
        )
        return keep.model_copy(update={"tags": tags, "merged_from": origins, "usage": usage})
