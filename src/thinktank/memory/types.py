"""Data of the memory bank: items, their provenance and usage, filters, limits, reports.

A :class:`MemoryItem` follows ReasoningBank's form: a title, a description saying
when to use the lesson (and when not), and 1–3 sentences of content (or a code
snippet), plus where it came from and how it has fared since.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from thinktank._strict import StrictModel
from thinktank.memory.errors import MemoryItemTooLarge

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


class Provenance(StrictModel):
    """Where an item came from."""

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


class UsageStats(StrictModel):
    """An item's track record."""

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


class MergedOrigin(StrictModel):
    """An item that consolidation merged into another one."""

    id: str
    """The merged item's id."""
    provenance: Provenance
    """Its provenance, kept so no origin is lost."""


class MemoryItem(StrictModel):
    """One lesson: a title, when to use it, and the lesson itself."""

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


class ItemLimits(StrictModel):
    """Size caps of one item; an item over a cap is refused with :class:`MemoryItemTooLarge`."""

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


class MemoryFilter(StrictModel):
    """Which items a retrieval or scan may return; unset fields do not filter."""

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
    exclude_tasks: list[str] | None = None
    """Leave out items learned from these tasks: an item whose provenance, or the
    provenance of any item merged into it, names one of them. The node runtime sets it
    to the running task, so a lesson never reaches the task it was learned from."""

    @field_validator("kinds", "domains", "tags", "ids", "exclude_tasks", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("tags")
    @classmethod
    def _lower(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [" ".join(t.lower().split()) for t in v]


FilterLike = MemoryFilter | Mapping[str, Any] | None
"""What retrieval takes as ``filters``: a :class:`MemoryFilter`, its fields as a mapping
(how callers below the memory layer, the node runtime, pass them), or ``None``."""


def as_filter(filters: FilterLike) -> MemoryFilter | None:
    """``filters`` as a :class:`MemoryFilter` (``None`` stays ``None``)."""
    if filters is None or isinstance(filters, MemoryFilter):
        return filters
    return MemoryFilter.model_validate(filters)


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
