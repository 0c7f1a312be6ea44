"""Consolidation and eviction applied inside one SQLite write transaction.

The duplicate clusters are computed outside the lock (:mod:`thinktank.memory._consolidate`)
from a snapshot; here every cluster is re-read, so stats written by other
processes in between are summed too, and members deleted meanwhile are skipped.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from thinktank.memory._consolidate import DedupRecord
from thinktank.memory._schema import EVICTION_ORDER
from thinktank.memory._sqlite_io import CHUNK, ITEM_COLUMNS, UPSERT, item_row, marks, row_item
from thinktank.memory.config import ConsolidationPolicy
from thinktank.memory.types import ConsolidationReport, MemoryItem, MergedOrigin

log = logging.getLogger("thinktank.memory")


def evict_over_cap(conn: sqlite3.Connection, max_items: int | None) -> list[str]:
    """Delete the surplus over ``max_items`` by the eviction rule; returns the evicted ids.

    Rule: demoted items first, then the lowest posterior success rate
    ``(s + 1) / (s + f + 2)``, then the least recently active, then the oldest row.
    """
    if max_items is None:
        return []
    surplus = conn.execute("SELECT count(*) FROM items").fetchone()[0] - max_items
    if surplus <= 0:
        return []
    victims = conn.execute(
        f"SELECT rowid, id FROM items ORDER BY {EVICTION_ORDER} LIMIT ?", (surplus,)
    ).fetchall()
    rowids = [r for r, _ in victims]
    for i in range(0, len(rowids), CHUNK):
        part = rowids[i : i + CHUNK]
        conn.execute(f"DELETE FROM items WHERE rowid IN ({marks(len(part))})", part)
    log.info("memory: evicted %d item(s) over the cap of %d", surplus, max_items)
    return [i for _, i in victims]


def merge(keep: MemoryItem, rest: Sequence[MemoryItem], max_tags: int) -> MemoryItem:
    """``keep`` with the others' stats summed, tags joined and their provenance kept."""
    group = [keep, *rest]
    tags = list(dict.fromkeys(t for m in group for t in m.tags))[:max_tags]
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


def _ids_where(
    conn: sqlite3.Connection,
    cond: str,
    params: list[Any],
    *,
    delete: bool = False,
    set_demoted: int | None = None,
) -> list[str]:
    ids = [r[0] for r in conn.execute(f"SELECT id FROM items WHERE {cond} ORDER BY rowid", params)]
    if delete:
        conn.execute(f"DELETE FROM items WHERE {cond}", params)
    elif set_demoted is not None:
        conn.execute(f"UPDATE items SET demoted = {int(set_demoted)} WHERE {cond}", params)
    return ids


def apply_consolidation(
    conn: sqlite3.Connection,
    clusters: Sequence[Sequence[DedupRecord]],
    policy: ConsolidationPolicy,
    *,
    max_items: int | None,
    max_tags: int,
    dry_run: bool,
) -> ConsolidationReport:
    """Merge ``clusters``, evict still-failing demoted items, demote, restore, enforce the cap."""
    report = ConsolidationReport(dry_run=dry_run)
    report.before = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    for cluster in clusters:
        ids = [r.id for r in cluster]
        q = f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks(len(ids))})"
        fresh = {row[1]: row_item(row) for row in conn.execute(q, ids)}
        members = [fresh[i] for i in ids if i in fresh]
        if len(members) < 2:
            continue
        conn.execute(UPSERT, item_row(merge(members[0], members[1:], max_tags)))
        gone = [m.id for m in members[1:]]
        conn.execute(f"DELETE FROM items WHERE id IN ({marks(len(gone))})", gone)
        report.merged[members[0].id] = gone
    # "failing": at least `failure_share` of the item's uses ended in failure
    failing = "used_in_failure >= ? * (used_in_success + used_in_failure)"
    share = policy.failure_share
    report.evicted = _ids_where(
        conn,
        f"demoted = 1 AND used_in_failure >= ? AND {failing}",
        [policy.evict_min_failures, share],
        delete=True,
    )
    report.demoted = _ids_where(
        conn,
        f"demoted = 0 AND used_in_failure >= ? AND {failing}",
        [policy.demote_min_failures, share],
        set_demoted=1,
    )
    report.restored = _ids_where(conn, f"demoted = 1 AND NOT ({failing})", [share], set_demoted=0)
    report.evicted += evict_over_cap(conn, max_items)
    conn.execute("DELETE FROM terms WHERE df <= 0")
    report.after = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    return report
