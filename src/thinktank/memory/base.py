"""The memory contract: :class:`MemoryBank`.

A memory bank stores short, reusable lessons distilled from earlier tasks
(strategies from successes, pitfalls from failures, code snippets, insights) and
returns the relevant ones for a new task (the item data lives in
:mod:`thinktank.memory.types`).

``MemoryBank`` is an ABC with six abstract async methods (``retrieve``, ``add``,
``scan``, ``delete``, ``record_use``, ``consolidate``); ``get``, ``count``,
``export`` and ``import_`` build on them, and every operation has a ``*_sync``
twin for scripts and notebooks.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from thinktank._sync import run_sync
from thinktank.memory.errors import ItemNotFound, MemoryImportError
from thinktank.memory.types import (
    KINDS,
    ConsolidationReport,
    FilterLike,
    ItemLimits,
    JudgeKind,
    Kind,
    MemoryFilter,
    MemoryItem,
    MergedOrigin,
    Outcome,
    Provenance,
    UsageStats,
    new_item_id,
    render_items,
    utcnow,
)

__all__ = [
    "KINDS",
    "ConsolidationReport",
    "ItemLimits",
    "JudgeKind",
    "Kind",
    "MemoryBank",
    "MemoryFilter",
    "MemoryItem",
    "MergedOrigin",
    "Outcome",
    "Provenance",
    "UsageStats",
    "new_item_id",
    "read_jsonl",
    "render_items",
    "utcnow",
]


def _write_text(path: Path, text: str, mode: str) -> None:
    if mode == "w":
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as fh:
        fh.write(text)


def read_jsonl(path: str | Path) -> list[MemoryItem]:
    """Items of a JSONL file; raises :class:`MemoryImportError` naming the first bad line."""
    items: list[MemoryItem] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                items.append(MemoryItem.model_validate_json(line))
            except (ValidationError, json.JSONDecodeError) as exc:
                raise MemoryImportError(
                    f"{path}:{lineno} is not a memory item: {exc}", line=lineno
                ) from exc
    return items


class MemoryBank(ABC):
    """A store of :class:`MemoryItem` with retrieval, usage tracking and consolidation.

    Implementations refuse items over :attr:`limits` in :meth:`add`.
    """

    limits: ItemLimits = ItemLimits()

    @abstractmethod
    async def retrieve(
        self,
        query: str,
        k: int = 5,
        filters: FilterLike = None,
        *,
        record: bool = True,
    ) -> list[MemoryItem]:
        """The ``k`` items most relevant to ``query``, best first, among those ``filters``
        lets through (a :class:`MemoryFilter` or its fields as a mapping).

        ``record`` counts the retrieval in each returned item's ``usage.retrieved``
        (off for browsing, e.g. ``thinktank memory search``).
        """

    @abstractmethod
    async def add(self, items: Iterable[MemoryItem]) -> list[str]:
        """Store ``items`` (an existing id is replaced, stats included); return their ids.

        Raises :class:`MemoryItemTooLarge` before storing anything if one is over a cap.
        """

    @abstractmethod
    async def scan(
        self, filters: MemoryFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        """Items matching ``filters`` in insertion order (paged by ``limit``/``offset``)."""

    @abstractmethod
    async def delete(self, item_ids: Sequence[str]) -> int:
        """Remove items; returns how many existed."""

    @abstractmethod
    async def record_use(self, item_ids: Sequence[str], outcome: Outcome) -> int:
        """Count that ``item_ids`` were in the prompt of a task that ended in ``outcome``.

        Returns how many items were updated (unknown ids are ignored).
        """

    @abstractmethod
    async def consolidate(self, *, dry_run: bool = False) -> ConsolidationReport:
        """Merge near-duplicates, demote (then evict) repeat-failure items, enforce the cap."""

    # --- helpers built on the abstract methods --------------------------------------

    async def get(self, item_id: str) -> MemoryItem:
        """The item with ``item_id``; raises :class:`ItemNotFound`."""
        found = await self.scan(MemoryFilter(ids=[item_id]), limit=1)
        if not found:
            raise ItemNotFound(f"no memory item with id {item_id!r}")
        return found[0]

    async def count(self, filters: MemoryFilter | None = None) -> int:
        """Number of items matching ``filters``."""
        return len(await self.scan(filters))

    async def export(self, path: str | Path, filters: MemoryFilter | None = None) -> int:
        """Write items as JSON lines (one :class:`MemoryItem` per line); returns the count.

        The file is written beside the target and renamed into place when complete.
        """
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        await asyncio.to_thread(_write_text, tmp, "", "w")
        n, page = 0, 1000
        while True:
            batch = await self.scan(filters, limit=page, offset=n)
            text = "".join(item.model_dump_json() + "\n" for item in batch)
            await asyncio.to_thread(_write_text, tmp, text, "a")
            n += len(batch)
            if len(batch) < page:
                break
        await asyncio.to_thread(tmp.replace, path)
        return n

    async def import_(self, path: str | Path, *, batch_size: int = 500) -> int:
        """Add the items of a JSONL file written by :meth:`export`; returns the count.

        Every line is validated (and size-checked) before anything is stored; a bad
        line raises :class:`MemoryImportError` naming it.
        """
        items = await asyncio.to_thread(read_jsonl, path)
        for item in items:
            self.limits.check(item)
        for i in range(0, len(items), batch_size):
            await self.add(items[i : i + batch_size])
        return len(items)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default holds none."""

    async def __aenter__(self) -> MemoryBank:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sync twins -----------------------------------------------------------------

    def retrieve_sync(
        self, query: str, k: int = 5, filters: FilterLike = None, *, record: bool = True
    ) -> list[MemoryItem]:
        return run_sync(self.retrieve(query, k, filters, record=record))

    def add_sync(self, items: Iterable[MemoryItem]) -> list[str]:
        return run_sync(self.add(items))

    def scan_sync(
        self, filters: MemoryFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        return run_sync(self.scan(filters, limit=limit, offset=offset))

    def delete_sync(self, item_ids: Sequence[str]) -> int:
        return run_sync(self.delete(item_ids))

    def record_use_sync(self, item_ids: Sequence[str], outcome: Outcome) -> int:
        return run_sync(self.record_use(item_ids, outcome))

    def consolidate_sync(self, *, dry_run: bool = False) -> ConsolidationReport:
        return run_sync(self.consolidate(dry_run=dry_run))

    def get_sync(self, item_id: str) -> MemoryItem:
        return run_sync(self.get(item_id))

    def count_sync(self, filters: MemoryFilter | None = None) -> int:
        return run_sync(self.count(filters))

    def export_sync(self, path: str | Path, filters: MemoryFilter | None = None) -> int:
        return run_sync(self.export(path, filters))

    def import_sync(self, path: str | Path) -> int:
        return run_sync(self.import_(path))

    def close(self) -> None:
        run_sync(self.aclose())

    def __enter__(self) -> MemoryBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
