"""The retrieval pipeline of the SQLite bank, run on one connection under its lock.

BM25 candidates come from FTS5 with a planned ``MATCH`` (see :mod:`thinktank.memory._rank`);
dense candidates from an in-memory matrix of the stored vectors, reloaded only
when the ``vectors_epoch`` counter (bumped by triggers on every vector write, from
any process) moves. The candidates are fused (hybrid) or normalised, blended with
each item's track record, and the top ``k`` rowids returned.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import numpy as np

from thinktank.memory._rank import (
    blend,
    normalize_bm25,
    plan_match,
    query_terms,
    reciprocal_rank_fusion,
)
from thinktank.memory._sqlite_io import marks
from thinktank.memory.config import RankingPolicy
from thinktank.memory.embeddings import Matrix, cosine_top_k, from_blob

Hits = list[tuple[int, float]]


def bm25_candidates(
    conn: sqlite3.Connection,
    query: str,
    pool: int,
    k: int,
    where: str,
    params: list[Any],
    policy: RankingPolicy,
) -> Hits:
    """Up to ``pool`` (rowid, bm25) pairs for ``query``, best (most negative) first."""
    cands = query_terms(query)
    if not cands:
        return []
    sql = f"SELECT term, df FROM terms WHERE term IN ({marks(len(cands))})"
    plan = plan_match(cands, dict(conn.execute(sql, cands).fetchall()), policy)
    if plan is None:
        return []
    w = ", ".join(str(float(x)) for x in policy.bm25_weights)
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


@dataclass
class _Loaded:
    epoch: int
    rowids: np.ndarray
    matrix: Matrix


class VectorCache:
    """The vectors of one embedding model, held in memory until they change on disk."""

    def __init__(self) -> None:
        self._loaded: _Loaded | None = None

    def candidates(
        self,
        conn: sqlite3.Connection,
        model: str,
        qvec: Matrix,
        pool: int,
        where: str,
        params: list[Any],
    ) -> Hits:
        """Up to ``pool`` (rowid, cosine) pairs nearest ``qvec``, among items passing ``where``."""
        epoch = conn.execute("SELECT value FROM meta WHERE key = 'vectors_epoch'").fetchone()[0]
        if self._loaded is None or self._loaded.epoch != epoch:
            rows = conn.execute(
                "SELECT item_rowid, vec FROM vectors WHERE model = ? ORDER BY item_rowid", (model,)
            ).fetchall()
            rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
            matrix = (
                np.stack([from_blob(v) for _, v in rows]) if rows else np.zeros((0, 1), np.float32)
            )
            self._loaded = _Loaded(epoch, rowids, matrix)
        vec = self._loaded
        mask = None
        if where != "1":
            allowed = [
                r for (r,) in conn.execute(f"SELECT rowid FROM items i WHERE {where}", params)
            ]
            mask = np.isin(vec.rowids, np.asarray(allowed, dtype=np.int64))
        idx, sims = cosine_top_k(vec.matrix, qvec, pool, mask)
        return [(int(vec.rowids[i]), float(s)) for i, s in zip(idx, sims, strict=True)]


def rank(
    conn: sqlite3.Connection, lexical: Hits, dense: Hits, mode: str, k: int, policy: RankingPolicy
) -> list[int]:
    """The ``k`` best rowids: relevance (fused in hybrid mode) blended with track record."""
    if mode == "hybrid":
        lists = [[r for r, _ in lexical], [r for r, _ in dense]]
        relevance = reciprocal_rank_fusion(lists, policy.rrf_k)
    elif mode == "bm25":
        scores = normalize_bm25([s for _, s in lexical])
        relevance = {r: s for (r, _), s in zip(lexical, scores, strict=True)}
    else:
        top = max((s for _, s in dense), default=1.0) or 1.0
        relevance = {r: max(s, 0.0) / top for r, s in dense}
    if not relevance:
        return []
    keys = list(relevance)
    sql = (
        "SELECT rowid, used_in_success, used_in_failure, demoted FROM items "
        f"WHERE rowid IN ({marks(len(keys))})"
    )
    scored = sorted(
        ((blend(relevance[r], s, f, bool(d), policy), r) for r, s, f, d in conn.execute(sql, keys)),
        key=lambda x: (-x[0], x[1]),
    )
    return [r for _, r in scored[:k]]
