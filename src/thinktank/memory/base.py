"""The memory contract: :class:`MemoryItem` and :class:`MemoryBank`.

A memory bank stores short, reusable lessons distilled from earlier tasks
(strategies from successes, pitfalls from failures, code snippets, insights) and
returns the relevant ones for a new task. It follows ReasoningBank's item form:
a title, a description saying when to use it (and when not), and 1–3 sentences of
content.

``MemoryBank`` is an ABC with six abstract async methods (``retrieve``, ``add``,
``scan``, ``delete``, ``record_use``, ``consolidate``); ``get``, ``count``,
``export`` and ``import_`` build on them, and every operation has a ``*_sync``
twin for scripts and notebooks.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thinktank._sync import run_sync
from thinktank.memory.errors import ItemNotFound, MemoryImportError, MemoryItemTooLarge

Kind = Literal["strategy", "pitfall", "snippet", "insight"]
KINDS: tuple[Kind, ...] = ("strategy", "pitfall", "snippet", "insight")
Outcome = Literal["success", "failure"]
JudgeKind = Literal["ground_truth", "self_judge"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_item_id() -> str:
    """A fresh random item id (16 hex digits)."""
    return uuid.uuid4().hex[:16]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Provenance(BaseModel):
    """Where an item came from."""

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = None
    """The task whose trajectory the item was distilled from."""
    outcome: Outcome | None = None
    """How that task ended: ``success`` or ``failure``."""
    judge: JudgeKind | None = None
    """Who decided the outcome: ``ground_truth`` (an evaluator) or ``self_judge`` (an LLM)."""
    run_id: str | None = None
    """The run that produced the trajectory."""
    method: str | None = None
    """The learner that wrote the item (``reasoningbank``, ``matts_parallel``, ``manual``, …)."""
    created: datetime = Field(default_factory=utcnow)
    """When the item was written (UTC)."""

    @field_validator("created")
    @classmethod
    def _tz(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class UsageStats(BaseModel):
    """An item's track record."""

    model_config = ConfigDict(extra="forbid")

    retrieved: int = Field(default=0, ge=0)
    """Times the item was returned by ``retrieve``."""
    used_in_success: int = Field(default=0, ge=0)
    """Times it was in the prompt of a task that then succeeded."""
    used_in_failure: int = Field(default=0, ge=0)
    """Times it was in the prompt of a task that then failed."""
    last_used: datetime | None = None
    """Last ``record_use`` (UTC)."""
    last_retrieved: datetime | None = None
    """Last retrieval that counted (UTC)."""

    @field_validator("last_used", "last_retrieved")
    @classmethod
    def _tz(cls, v: datetime | None) -> datetime | None:
        return _utc(v)

    def success_rate(self, prior_success: float = 1.0, prior_failure: float = 1.0) -> float:
        """Posterior mean success rate under a Beta(prior_success, prior_failure) prior."""
        s, f = self.used_in_success, self.used_in_failure
        return (s + prior_success) / (s + f + prior_success + prior_failure)


class MergedOrigin(BaseModel):
    """An item that consolidation merged into another one."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """The merged item's id."""
    provenance: Provenance
    """Its provenance, kept so no origin is lost."""


class MemoryItem(BaseModel):
    """One lesson: a title, when to use it, and the lesson itself."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_item_id, min_length=1, max_length=64)
    """Stable identifier (random by default)."""
    title: str = Field(min_length=1)
    """A short name for the lesson."""
    description: str = ""
    """When to use it, and when not to."""
    content: str = Field(min_length=1)
    """The lesson: 1–3 sentences of strategy or pitfall, or a code snippet."""
    kind: Kind = "strategy"
    """``strategy`` (from a success), ``pitfall`` (from a failure), ``snippet`` or ``insight``."""
    domain: str | None = None
    """Task family the lesson belongs to (``math``, ``swe``, ``web``, …)."""
    tags: list[str] = Field(default_factory=list)
    """Free labels, normalised to lower case, unique, in order."""
    provenance: Provenance = Field(default_factory=Provenance)
    """Origin of the item."""
    usage: UsageStats = Field(default_factory=UsageStats)
    """Track record."""
    demoted: bool = False
    """Set by consolidation when the item keeps appearing in failures; ranked lower, evicted first."""
    merged_from: list[MergedOrigin] = Field(default_factory=list)
    """Near-duplicates consolidation folded into this item."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for t in v:
            t = " ".join(t.lower().split())
            if t:
                seen.setdefault(t, None)
        return list(seen)

    @field_validator("title", "description", "content")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    def render(self) -> str:
        """The item as prompt text."""
        head = f"[{self.kind}] {self.title}"
        parts = [head]
        if self.description:
            parts.append(f"When: {self.description}")
        parts.append(self.content)
        return "\n".join(parts)


def render_items(items: Sequence[MemoryItem], header: str = "Lessons from earlier tasks") -> str:
    """Numbered prompt block of ``items`` (empty string when there are none)."""
    if not items:
        return ""
    body = "\n\n".join(f"{i}. {it.render()}" for i, it in enumerate(items, 1))
    return f"{header}:\n\n{body}"


class ItemLimits(BaseModel):
    """Size caps of one item; an item over a cap is refused with :class:`MemoryItemTooLarge`."""

    model_config = ConfigDict(extra="forbid")

    max_title_chars: int = Field(default=200, ge=1)
    """Longest title."""
    max_description_chars: int = Field(default=1_000, ge=0)
    """Longest description."""
    max_content_chars: int = Field(default=4_000, ge=1)
    """Longest content (a code snippet included)."""
    max_tags: int = Field(default=32, ge=0)
    """Most tags."""

    def check(self, item: MemoryItem) -> None:
        """Raise :class:`MemoryItemTooLarge` naming the first field over its cap."""
        for name, size, cap in (
            ("title", len(item.title), self.max_title_chars),
            ("description", len(item.description), self.max_description_chars),
            ("content", len(item.content), self.max_content_chars),
            ("tags", len(item.tags), self.max_tags),
        ):
            if size > cap:
                unit = "tags" if name == "tags" else "characters"
                raise MemoryItemTooLarge(
                    f"memory item {item.id!r} ({item.title[:60]!r}) was refused: its {name} has "
                    f"{size} {unit}, over the cap of {cap}; shorten it or raise "
                    f"limits.max_{name if name == 'tags' else name + '_chars'}",
                    item_id=item.id,
                    field=name,
                )


class MemoryFilter(BaseModel):
    """Which items a retrieval or scan may return; unset fields do not filter."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] | None = None
    """Only these kinds."""
    domains: list[str] | None = None
    """Only these domains."""
    tags: list[str] | None = None
    """Only items carrying these tags (all of them, or any with ``tags_mode="any"``)."""
    tags_mode: Literal["all", "any"] = "all"
    """How ``tags`` combine."""
    ids: list[str] | None = None
    """Only these item ids."""
    include_demoted: bool = True
    """Also return demoted items (they are still ranked lower)."""

    @field_validator("kinds", "domains", "tags", "ids", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("tags")
    @classmethod
    def _lower(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [" ".join(t.lower().split()) for t in v]


class ConsolidationReport(BaseModel):
    """What :meth:`MemoryBank.consolidate` did (or would do, in a dry run)."""

    merged: dict[str, list[str]] = Field(default_factory=dict)
    """Kept item id → ids of the near-duplicates folded into it."""
    demoted: list[str] = Field(default_factory=list)
    """Items newly demoted for repeated failures."""
    restored: list[str] = Field(default_factory=list)
    """Demoted items whose record recovered."""
    evicted: list[str] = Field(default_factory=list)
    """Items removed (demoted items still failing, then the size cap)."""
    before: int = 0
    """Items before."""
    after: int = 0
    """Items after."""
    dry_run: bool = False
    """True when nothing was changed."""


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
        self, query: str, k: int = 5, filters: MemoryFilter | None = None, *, record: bool = True
    ) -> list[MemoryItem]:
        """The ``k`` items most relevant to ``query``, best first.

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
        self, query: str, k: int = 5, filters: MemoryFilter | None = None, *, record: bool = True
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
