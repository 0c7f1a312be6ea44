"""What memory nodes are shown: the bank's items, or a Dynamic-Cheatsheet sheet.

A compiled graph reads memory through one call, ``memory.retrieve(task prompt,
node.memory_k)``, for every node whose spec sets ``memory=True`` (see
:func:`thinktank.graphs.compile`), and shows the returned items in that agent's
system prompt. A bank answers with its items (ReasoningBank). The two views
here answer with one sheet instead, so the cheatsheet modes need no change to
graphs or agents — pass the view where a bank would go:

* :class:`CumulativeSheetView` — the bank's one evolving sheet (cumulative mode);
* :class:`SynthesisView` — a sheet written for this task from the ``memory_k``
  items retrieved for it (retrieval-synthesis mode).

A sheet is shown as an item whose id starts with
:data:`~thinktank.learning.runs.SHEET_ID_PREFIX`; a synthesized sheet's id names
the bank items it was written from, so their use is credited after the task.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from thinktank.errors import BudgetExceeded
from thinktank.learning.cheatsheet import synthesize
from thinktank.learning.runs import SHEET_ID_PREFIX
from thinktank.llm.base import ChatModel
from thinktank.llm.ledger import scope
from thinktank.memory.base import MemoryBank
from thinktank.memory.sheets import DEFAULT_SHEET, SheetStore
from thinktank.memory.types import FilterLike, as_filter

log = logging.getLogger("thinktank.learning.views")


@dataclass(frozen=True)
class SheetItem:
    """A cheatsheet in the shape agents show memory items in."""

    id: str
    title: str
    description: str
    content: str


class CumulativeSheetView:
    """Shows every memory node the current cumulative cheatsheet (nothing while it is empty)."""

    def __init__(
        self,
        store: SheetStore,
        *,
        name: str = DEFAULT_SHEET,
        max_chars: int = 6_000,
        bank: Any = None,
    ) -> None:
        self.store = store
        self.name = name
        self.max_chars = max_chars
        self.bank = bank

    @property
    def path(self) -> Any:
        """The bank's file (how runs record which memory they used)."""
        return getattr(self.bank, "path", f"cheatsheet {self.name}")

    async def retrieve(
        self, query: str, k: int = 1, filters: FilterLike = None, *, record: bool = True
    ) -> list[SheetItem]:
        """The sheet as one item, whatever the query (the cumulative sheet is not per task);
        none for a task ``filters`` excludes that shaped the sheet (a task never sees
        what was learned from it)."""
        sheet = await self.store.load(self.name, max_chars=self.max_chars)
        if not sheet.text.strip() or k == 0:
            return []
        f = as_filter(filters)
        if f is not None and f.exclude_tasks and set(f.exclude_tasks) & set(sheet.sources):
            return []
        return [
            SheetItem(
                id=f"{SHEET_ID_PREFIX}{self.name}@v{sheet.version}",
                title="Cheatsheet",
                description="strategies, checks and snippets curated from earlier tasks",
                content=sheet.text,
            )
        ]


class SynthesisView:
    """Shows memory nodes a sheet synthesized for the task from the items retrieved for it.

    ``k`` (when set) overrides the node's ``memory_k`` as the number of items
    retrieved. Sheets are cached per (query, k) for the ``cache`` latest queries,
    so the nodes and graphs of one task share one synthesis call. When synthesis
    fails (the reply has no sheet, the endpoint errs) the retrieved items are shown
    as they are, and the reason is kept in :attr:`notes` for the task's record.
    Budget refusals propagate (the task is out of budget).
    """

    def __init__(
        self,
        bank: MemoryBank,
        model: ChatModel,
        *,
        k: int | None = None,
        max_chars: int = 6_000,
        cache: int = 32,
    ) -> None:
        self.bank = bank
        self.model = model
        self.k = k
        self.max_chars = max_chars
        self.notes: dict[str, list[str]] = {}
        """Task prompt → warnings of its synthesis (taken by the learner after the task)."""
        self._cache: OrderedDict[tuple[str, int, tuple[str, ...]], asyncio.Future[list[Any]]] = (
            OrderedDict()
        )
        self._size = cache

    @property
    def path(self) -> Any:
        return getattr(self.bank, "path", "memory")

    async def retrieve(
        self, query: str, k: int = 3, filters: FilterLike = None, *, record: bool = True
    ) -> list[Any]:
        """One synthesized sheet for ``query`` (the raw items when synthesis fails)."""
        n = self.k if self.k is not None else k
        f = as_filter(filters)
        key = (query, n, tuple(f.exclude_tasks or ()) if f is not None else ())
        fut = self._cache.get(key)
        stale = fut is not None and (
            fut.get_loop() is not asyncio.get_running_loop()
            or (fut.done() and (fut.cancelled() or fut.exception() is not None))
        )
        if fut is None or stale:
            fut = asyncio.ensure_future(self._synthesize(query, n, filters, record))
            self._cache[key] = fut
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return list(await asyncio.shield(fut))

    def take_notes(self, query: str) -> list[str]:
        """Remove and return the warnings recorded for ``query``."""
        return self.notes.pop(query, [])

    async def _synthesize(self, query: str, k: int, filters: FilterLike, record: bool) -> list[Any]:
        items = await self.bank.retrieve(query, k, filters, record=record)
        if not items:
            return []
        try:
            with scope(node="memory", role="curator"):
                res = await synthesize(self.model, query, items, max_chars=self.max_chars)
        except BudgetExceeded:
            raise
        except Exception as exc:  # the sheet is an aid: the task goes on with the items
            log.warning("cheatsheet synthesis failed: %s", exc)
            self.notes.setdefault(query, []).append(
                f"cheatsheet synthesis failed ({type(exc).__name__}: {exc}); "
                "the retrieved items were shown instead"
            )
            return list(items)
        if res.warnings:
            self.notes.setdefault(query, []).extend(res.warnings)
        if not res.accepted:
            return list(items)
        ids = "+".join(i.id for i in items)
        return [
            SheetItem(
                id=f"{SHEET_ID_PREFIX}synth:{ids}",
                title="Cheatsheet for this task",
                description=f"synthesized from {len(items)} lessons of earlier tasks",
                content=res.sheet.text,
            )
        ]
