"""Dynamic Cheatsheet: one evolving, bounded sheet of strategies and snippets.

* **Cumulative mode** (:func:`curate`): after each task a curator model rewrites the
  sheet from the old sheet plus the new attempt and its outcome.
* **Retrieval-synthesis mode** (:func:`synthesize`, :func:`synthesize_from_bank`):
  for a new query, past items are retrieved and a curator writes a sheet for this
  query alone.

The curator replies with the sheet between ``<cheatsheet>`` tags. A reply without
them keeps the old sheet (warning recorded); a sheet over ``max_chars`` is cut at a
line boundary (warning recorded); a sheet that copies a long run of a tool output
is refused like a memory item (old sheet kept).

The sheet itself (:class:`~thinktank.memory.sheets.Cheatsheet`) and where it is kept
belong to the store (:mod:`thinktank.memory.sheets`); this module writes its text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from thinktank.learning import prompts
from thinktank.learning.attempt import Attempt, Judgement
from thinktank.learning.learn import VerbatimGuard, record_warning
from thinktank.llm.base import ChatModel
from thinktank.memory.base import MemoryBank
from thinktank.memory.sheets import Cheatsheet
from thinktank.memory.types import MemoryFilter, MemoryItem, utcnow

_TAGGED = re.compile(r"<cheatsheet>(.*?)(?:</cheatsheet>|\Z)", re.DOTALL | re.IGNORECASE)


class CheatsheetResult(BaseModel):
    """The sheet after a curator step, and why a rewrite was refused or cut."""

    sheet: Cheatsheet
    """The new sheet (the old one when the rewrite was refused)."""
    accepted: bool
    """Whether the curator's rewrite replaced the sheet."""
    warnings: list[str] = Field(default_factory=list)
    """What went wrong, if anything."""


def _words_for(max_chars: int) -> int:
    return max(50, max_chars // 7)  # ~6-7 characters per English word with spacing


def parse_sheet(
    reply: str, old: Cheatsheet, *, guard: VerbatimGuard | None = None
) -> CheatsheetResult:
    """Apply a curator reply to ``old`` (see the module docstring for the rules)."""
    warnings: list[str] = []
    match = _TAGGED.search(reply)
    if match is None:
        record_warning(warnings, "curator reply has no <cheatsheet> block; the sheet is unchanged")
        return CheatsheetResult(sheet=old, accepted=False, warnings=warnings)
    text = match.group(1).strip()
    if not text:
        record_warning(warnings, "curator returned an empty cheatsheet; the sheet is unchanged")
        return CheatsheetResult(sheet=old, accepted=False, warnings=warnings)
    copied = guard.copied_words(text) if guard else 0
    if copied:
        record_warning(
            warnings,
            f"curator's cheatsheet repeats {copied} consecutive words of a tool output; "
            "the sheet is unchanged",
        )
        return CheatsheetResult(sheet=old, accepted=False, warnings=warnings)
    if len(text) > old.max_chars:
        cut = text[: old.max_chars]
        cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
        record_warning(
            warnings,
            f"cheatsheet of {len(text)} characters cut to {len(cut)} (max_chars={old.max_chars})",
        )
        text = cut.rstrip()
    sheet = old.model_copy(update={"text": text, "version": old.version + 1, "updated": utcnow()})
    return CheatsheetResult(sheet=sheet, accepted=True, warnings=warnings)


async def _curator(model: ChatModel, system: str, user: str, temperature: float | None) -> str:
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return (await model.generate(msgs, temperature=temperature))[0].text


async def curate(
    model: ChatModel,
    sheet: Cheatsheet,
    trajectory: Attempt,
    verdict: Judgement | None = None,
    *,
    verbatim_words: int = 12,
    temperature: float | None = None,
) -> CheatsheetResult:
    """Cumulative mode: rewrite ``sheet`` after one attempt (outcome from ``verdict`` or the trajectory)."""
    outcome = verdict.outcome if verdict else trajectory.outcome or "unknown"
    user = (
        f"## Current cheatsheet\n{sheet.text or '(empty)'}\n\n"
        f"## New attempt (outcome: {outcome})\n{trajectory.render()}"
    )
    if verdict and verdict.rationale:
        user += f"\nWhy: {verdict.rationale}"
    system = prompts.CURATOR_SYSTEM % {"words": _words_for(sheet.max_chars)}
    reply = await _curator(model, system, user, temperature)
    return parse_sheet(reply, sheet, guard=VerbatimGuard(trajectory.observations(), verbatim_words))


def _case(i: int, item: MemoryItem) -> str:
    u = item.usage
    record = f"used in {u.used_in_success} successes, {u.used_in_failure} failures"
    return f"{i}. {item.render()}\n   ({record})"


async def synthesize(
    model: ChatModel,
    query: str,
    items: Sequence[MemoryItem],
    *,
    max_chars: int = 6_000,
    temperature: float | None = None,
) -> CheatsheetResult:
    """Retrieval-synthesis mode: a sheet for ``query`` from retrieved ``items``.

    With no items there is nothing to synthesize: the empty sheet is returned
    without a model call.
    """
    empty = Cheatsheet(max_chars=max_chars)
    if not items:
        return CheatsheetResult(sheet=empty, accepted=False)
    cases = "\n".join(_case(i, it) for i, it in enumerate(items, 1))
    user = f"## Task\n{query}\n\n## Retrieved lessons and cases\n{cases}"
    system = prompts.SYNTHESIS_SYSTEM % {"words": _words_for(max_chars)}
    return parse_sheet(await _curator(model, system, user, temperature), empty)


async def synthesize_from_bank(
    model: ChatModel,
    bank: MemoryBank,
    query: str,
    *,
    k: int = 8,
    filters: MemoryFilter | None = None,
    max_chars: int = 6_000,
) -> CheatsheetResult:
    """Retrieve ``k`` items for ``query`` from ``bank`` and synthesize a sheet from them."""
    items = await bank.retrieve(query, k, filters)
    return await synthesize(model, query, items, max_chars=max_chars)
