"""An optional LLM judge of answer equivalence, for free text.

Normalised string equality misses paraphrases ("Lake Orva's north shore" vs "the
northern shore of Lake Orva"). :func:`judge_equivalence` asks a
:class:`~thinktank.llm.base.ChatModel` whether two answers say the same thing,
through :func:`~thinktank.llm.structured.generate_structured`, and returns an
:class:`EquivalenceVerdict`. Answers that already normalise to the same text are
declared equal without a call.

Two framings: *symmetric* (two candidates; used to merge vote groups, see
:func:`judge_keys`) and *reference* (a candidate against a gold answer; used by
the ``llm_match`` evaluator), where the judge is told to accept more specific but
consistent answers and to reject hedged or partly wrong ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from thinktank.graphs.answers.text import canonical_text, extract_text, normalize_text
from thinktank.llm.base import ChatModel
from thinktank.llm.structured import generate_structured

SYMMETRIC_PROMPT = """\
Decide whether two answers to the same question are equivalent: they give the \
same final answer, even if worded, formatted or rounded differently. Ignore the \
reasoning; compare only what each answer finally claims.
{question}
Answer 1: {a}
Answer 2: {b}"""

REFERENCE_PROMPT = """\
Grade a candidate answer against the reference answer to a question. It is \
correct when it gives the same final answer as the reference (different wording, \
formatting, units or a more precise but consistent value are fine). It is \
incorrect when it differs, hedges between several answers, or adds a wrong claim.
{question}
Reference answer: {a}
Candidate answer: {b}"""


class EquivalenceVerdict(BaseModel):
    """The judge's decision on two answers."""

    equivalent: bool
    """True when the two answers give the same final answer."""
    reason: str = Field(default="", max_length=2000)
    """A short justification written by the judge (empty when no call was made)."""


async def judge_equivalence(
    model: ChatModel,
    a: str,
    b: str,
    *,
    question: str | None = None,
    reference: bool = False,
    temperature: float | None = 0.0,
    max_tokens: int | None = 300,
) -> EquivalenceVerdict:
    """Ask ``model`` whether answers ``a`` and ``b`` are equivalent.

    With ``reference=True``, ``a`` is the gold answer and ``b`` the candidate.
    Raises :class:`~thinktank.errors.OutputParseError` when the judge's reply
    cannot be parsed even after one repair round.
    """
    if normalize_text(a) and normalize_text(a) == normalize_text(b):
        return EquivalenceVerdict(equivalent=True, reason="identical after normalisation")
    template = REFERENCE_PROMPT if reference else SYMMETRIC_PROMPT
    prompt = template.format(
        question=f"Question: {question}" if question else "",
        a=a.strip(),
        b=b.strip(),
    )
    return await generate_structured(
        model,
        [{"role": "user", "content": prompt}],
        EquivalenceVerdict,
        temperature=temperature,
        max_tokens=max_tokens,
    )


async def answers_equivalent(
    model: ChatModel, a: str, b: str, *, question: str | None = None
) -> bool:
    """``True`` when the judge finds ``a`` and ``b`` equivalent (symmetric framing)."""
    return (await judge_equivalence(model, a, b, question=question)).equivalent


async def judge_keys(
    model: ChatModel,
    replies: Sequence[str | None],
    *,
    question: str | None = None,
    extract: bool = True,
) -> list[str | None]:
    """Voting keys for free-text replies, merging groups the judge calls equivalent.

    Replies are first grouped by :func:`~thinktank.graphs.answers.text.canonical_text`
    (no calls). Each new group is then compared, in order of first appearance, with
    the representatives of the groups kept so far; it joins the first one the
    judge finds equivalent, else it becomes a new group. The key of a merged group
    is its first representative's key, so the result is deterministic for a
    deterministic judge. Calls: at most ``distinct × groups``.
    """
    keys = [
        (canonical_text(r) if extract else (normalize_text(r) or None)) if r is not None else None
        for r in replies
    ]
    shown: dict[str, str] = {}
    for reply, key in zip(replies, keys, strict=True):
        if key is not None and reply is not None and key not in shown:
            shown[key] = (extract_text(reply) if extract else None) or reply
    merged: dict[str, str] = {}
    heads: list[str] = []
    for key in shown:
        target = key
        for head in heads:
            if await answers_equivalent(model, shown[head], shown[key], question=question):
                target = head
                break
        if target == key:
            heads.append(key)
        merged[key] = target
    return [merged[k] if k is not None else None for k in keys]
