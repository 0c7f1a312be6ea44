"""Learning memory items from judged trajectories with any :class:`~thinktank.llm.base.ChatModel`.

* :func:`self_judge` — an LLM decides success or failure, with a rationale, when no
  evaluator gives ground truth (ReasoningBank's judge).
* :func:`extract_items` — ReasoningBank extraction: up to 3 strategies from a
  success, up to 3 pitfalls from a failure.
* :func:`extract_contrastive` — parallel MaTTS: contrast k attempts at the same task
  (successes against failures), up to 5 items.
* :func:`extract_sequential` — sequential MaTTS: learn from a chain of refinements.
* :func:`learn` — judge when needed, extract, store.

Replies are parsed item by item: an item that does not parse, is over a size cap,
or copies a long run of words from the trajectory's tool outputs is skipped with a
warning in :attr:`LearnResult.warnings` (also logged); a reply with no usable JSON
yields no items. Model, budget and endpoint errors are not swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thinktank.errors import UsageError
from thinktank.learning import prompts
from thinktank.learning._verbatim import longest_shared_run, shingles
from thinktank.learning.attempt import Attempt, Judgement
from thinktank.llm.base import ChatModel
from thinktank.llm.structured import extract_json, schema_format
from thinktank.memory.base import MemoryBank
from thinktank.memory.errors import MemoryItemTooLarge
from thinktank.memory.types import ItemLimits, JudgeKind, Kind, MemoryItem, Outcome, Provenance

log = logging.getLogger("thinktank.learning.learn")


class LearnResult(BaseModel):
    """What a learning step produced."""

    items: list[MemoryItem] = Field(default_factory=list)
    """Items that passed parsing, the size caps and the verbatim guard."""
    warnings: list[str] = Field(default_factory=list)
    """Why replies or items were skipped."""
    verdict: Judgement | None = None
    """The verdict used (or produced, for :func:`self_judge`)."""


class VerbatimGuard:
    """Rejects text that repeats ``min_words`` or more consecutive words of any source.

    Sources are the tool outputs and pages a trajectory observed; items must be
    distilled, not copied. Comparison ignores case, punctuation and spacing.
    """

    def __init__(self, sources: Sequence[str], min_words: int = 12) -> None:
        self.min_words = min_words
        self._shingles: set[int] = set()
        for s in sources:
            self._shingles |= shingles(s, min_words)

    def copied_words(self, text: str) -> int:
        """Length of the longest run of ``text`` found verbatim in a source (0 if none)."""
        if not self._shingles:
            return 0
        return longest_shared_run(text, self._shingles, self.min_words)


class _Draft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1)
    description: str = ""
    content: str = Field(min_length=1)
    kind: Kind | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v


class _ItemsReply(BaseModel):
    items: list[_Draft]


class _JudgeReply(BaseModel):
    outcome: Outcome
    rationale: str = ""

    @field_validator("outcome", mode="before")
    @classmethod
    def _norm(cls, v: Any) -> Any:
        if isinstance(v, str):
            low = v.strip().lower()
            if low.startswith(("succ", "pass", "correct")):
                return "success"
            if low.startswith(("fail", "incorrect", "wrong")):
                return "failure"
        return v


def record_warning(warnings: list[str], message: str) -> None:
    """Append ``message`` to ``warnings`` and log it."""
    warnings.append(message)
    log.warning("memory learning: %s", message)


def _excerpt(text: str, n: int = 200) -> str:
    return repr(text if len(text) <= n else text[:n] + "…")


async def _ask(
    model: ChatModel, system: str, user: str, reply_type: type[BaseModel], temperature: float | None
) -> str:
    kw: dict[str, Any] = {"temperature": temperature}
    if model.capabilities.json_schema:
        kw["response_format"] = schema_format(reply_type)
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return (await model.generate(msgs, **kw))[0].text


def parse_items(
    reply: str,
    *,
    max_items: int,
    default_kind: Kind,
    allowed_kinds: Sequence[Kind],
    provenance: Provenance,
    domain: str | None = None,
    limits: ItemLimits | None = None,
    guard: VerbatimGuard | None = None,
) -> tuple[list[MemoryItem], list[str]]:
    """Memory items from an extraction reply, skipping (with a warning) those that fail."""
    warnings: list[str] = []
    limits = limits or ItemLimits()
    try:
        data = extract_json(reply)
    except ValueError:
        record_warning(
            warnings, f"extraction reply has no JSON object; no items kept: {_excerpt(reply)}"
        )
        return [], warnings
    raw = data if isinstance(data, list) else data.get("items") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        record_warning(
            warnings, f"extraction reply has no 'items' list; no items kept: {_excerpt(reply)}"
        )
        return [], warnings
    items: list[MemoryItem] = []
    for n, entry in enumerate(raw, 1):
        if len(items) == max_items:
            record_warning(warnings, f"reply held {len(raw)} items; kept the first {max_items}")
            break
        try:
            draft = _Draft.model_validate(entry)
        except ValidationError as exc:
            record_warning(
                warnings,
                f"item {n} skipped: {exc.errors(include_url=False)[0]['msg']}: {_excerpt(str(entry))}",
            )
            continue
        kind: Kind = (
            draft.kind if draft.kind is not None and draft.kind in allowed_kinds else default_kind
        )
        item = MemoryItem(
            title=draft.title, description=draft.description, content=draft.content, kind=kind,
            domain=domain, provenance=provenance,
        )  # fmt: skip
        try:
            limits.check(item)
        except MemoryItemTooLarge as exc:
            record_warning(warnings, f"item {n} skipped: {exc}")
            continue
        copied = guard.copied_words(f"{item.description}\n{item.content}") if guard else 0
        if copied:
            record_warning(
                warnings,
                f"item {n} ({item.title!r}) skipped: it repeats {copied} consecutive words of a "
                "tool output; items must be distilled, not copied",
            )
            continue
        items.append(item)
    return items, warnings


async def self_judge(
    model: ChatModel, trajectory: Attempt, *, temperature: float | None = 0.0
) -> LearnResult:
    """An LLM verdict (success/failure + rationale); ``verdict`` is None when the reply does not parse."""
    warnings: list[str] = []
    reply = await _ask(model, prompts.JUDGE_SYSTEM, trajectory.render(), _JudgeReply, temperature)
    try:
        parsed = _JudgeReply.model_validate(extract_json(reply))
    except (ValueError, ValidationError):
        record_warning(warnings, f"self-judge reply did not parse; no verdict: {_excerpt(reply)}")
        return LearnResult(warnings=warnings)
    verdict = Judgement(outcome=parsed.outcome, judge="self_judge", rationale=parsed.rationale)
    return LearnResult(verdict=verdict, warnings=warnings)


def _provenance(
    t: Attempt, outcome: Outcome | None, judge: JudgeKind | None, method: str
) -> Provenance:
    return Provenance(
        task_id=t.task_id, outcome=outcome, judge=judge, run_id=t.run_id, method=method
    )


async def extract_items(
    model: ChatModel,
    trajectory: Attempt,
    verdict: Judgement,
    *,
    max_items: int = 3,
    limits: ItemLimits | None = None,
    verbatim_words: int = 12,
    temperature: float | None = None,
) -> LearnResult:
    """ReasoningBank extraction: strategies from a success, pitfalls from a failure."""
    success = verdict.outcome == "success"
    system = (prompts.SUCCESS_SYSTEM if success else prompts.FAILURE_SYSTEM) % {"n": max_items}
    user = f"{trajectory.render()}\n\nOutcome: {verdict.outcome} ({verdict.judge})"
    if verdict.rationale:
        user += f"\nWhy: {verdict.rationale}"
    reply = await _ask(model, system, user, _ItemsReply, temperature)
    kind: Kind = "strategy" if success else "pitfall"
    items, warnings = parse_items(
        reply, max_items=max_items, default_kind=kind, allowed_kinds=(kind,),
        provenance=_provenance(trajectory, verdict.outcome, verdict.judge, "reasoningbank"),
        domain=trajectory.domain, limits=limits,
        guard=VerbatimGuard(trajectory.observations(), verbatim_words),
    )  # fmt: skip
    return LearnResult(items=items, warnings=warnings, verdict=verdict)


def _labelled(
    attempts: Sequence[Attempt], verdicts: Sequence[Judgement | None] | None
) -> list[Judgement | None]:
    if verdicts is not None:
        if len(verdicts) != len(attempts):
            raise UsageError(
                f"{len(verdicts)} verdicts for {len(attempts)} attempts; give one per attempt"
            )
        return list(verdicts)
    return [
        Judgement(outcome=a.outcome, judge="ground_truth") if a.outcome else None for a in attempts
    ]


async def _multi(
    model: ChatModel,
    system: str,
    attempts: Sequence[Attempt],
    verdicts: Sequence[Judgement | None] | None,
    *,
    method: str,
    max_items: int,
    limits: ItemLimits | None,
    verbatim_words: int,
    temperature: float | None,
    per_attempt_chars: int,
) -> LearnResult:
    if len(attempts) < 2:
        raise UsageError(f"{method} needs at least 2 attempts; use extract_items for one")
    labels = _labelled(attempts, verdicts)
    rendered = [
        (v.outcome if v else "outcome unknown", a.render(max_chars=per_attempt_chars))
        for a, v in zip(attempts, labels, strict=True)
    ]
    user = f"Task: {attempts[0].task}\n\n{prompts.numbered_attempts(rendered)}"
    reply = await _ask(
        model, system % {"k": len(attempts), "n": max_items}, user, _ItemsReply, temperature
    )
    known = [v for v in labels if v is not None]
    judges = {v.judge for v in known}
    outcome: Outcome | None = None
    if known:
        outcome = "success" if any(v.outcome == "success" for v in known) else "failure"
    first = attempts[0]
    items, warnings = parse_items(
        reply, max_items=max_items, default_kind="strategy", allowed_kinds=("strategy", "pitfall"),
        provenance=_provenance(first, outcome, judges.pop() if len(judges) == 1 else None, method),
        domain=first.domain, limits=limits,
        guard=VerbatimGuard([o for a in attempts for o in a.observations()], verbatim_words),
    )  # fmt: skip
    return LearnResult(items=items, warnings=warnings)


async def extract_contrastive(
    model: ChatModel,
    attempts: Sequence[Attempt],
    verdicts: Sequence[Judgement | None] | None = None,
    *,
    max_items: int = 5,
    limits: ItemLimits | None = None,
    verbatim_words: int = 12,
    temperature: float | None = None,
) -> LearnResult:
    """Parallel MaTTS: contrast k attempts at one task (outcomes from ``verdicts`` — ``None``
    for an attempt whose outcome is unknown — or from the attempts)."""
    return await _multi(
        model, prompts.CONTRAST_SYSTEM, attempts, verdicts, method="matts_parallel",
        max_items=max_items, limits=limits, verbatim_words=verbatim_words,
        temperature=temperature, per_attempt_chars=max(2_000, 24_000 // len(attempts or [0])),
    )  # fmt: skip


async def extract_sequential(
    model: ChatModel,
    attempts: Sequence[Attempt],
    verdicts: Sequence[Judgement | None] | None = None,
    *,
    max_items: int = 3,
    limits: ItemLimits | None = None,
    verbatim_words: int = 12,
    temperature: float | None = None,
) -> LearnResult:
    """Sequential MaTTS: learn from successive refinements of one attempt (oldest first)."""
    return await _multi(
        model, prompts.SEQUENTIAL_SYSTEM, attempts, verdicts, method="matts_sequential",
        max_items=max_items, limits=limits, verbatim_words=verbatim_words,
        temperature=temperature, per_attempt_chars=max(2_000, 24_000 // len(attempts or [0])),
    )  # fmt: skip


async def learn(
    model: ChatModel,
    trajectory: Attempt,
    *,
    verdict: Judgement | None = None,
    bank: MemoryBank | None = None,
    max_items: int = 3,
    verbatim_words: int = 12,
) -> LearnResult:
    """Judge (ground truth from ``verdict`` or ``trajectory.outcome``, else the LLM), extract, store.

    With no usable verdict nothing is extracted; the warnings say why.
    """
    warnings: list[str] = []
    if verdict is None and trajectory.outcome is not None:
        verdict = Judgement(outcome=trajectory.outcome, judge="ground_truth")
    if verdict is None:
        judged = await self_judge(model, trajectory)
        warnings += judged.warnings
        verdict = judged.verdict
        if verdict is None:
            return LearnResult(warnings=warnings)
    limits = bank.limits if bank is not None else None
    result = await extract_items(
        model,
        trajectory,
        verdict,
        max_items=max_items,
        limits=limits,
        verbatim_words=verbatim_words,
    )
    result.warnings = warnings + result.warnings
    if bank is not None and result.items:
        await bank.add(result.items)
    return result
