"""Majority and weighted voting over canonical answers (self-consistency).

Each reply is mapped to a canonical key by its *kind* (``number``, ``choice``,
``text``, ``code``, ``exact``, or any function ``str -> str | None``); replies
with no extractable answer get ``None`` and do not vote. The key with the most
votes (or the largest total weight) wins.

Ties are broken deterministically: first by ``prefer`` (a score per key, higher
wins; e.g. tests passed for code), then by ``tie_break`` — ``"first"`` (the key
that appeared earliest in the input, the default) or ``"lexical"`` (the smallest
key) — so the same inputs always give the same winner.

``vote(answers, kind)`` returns a :class:`VoteResult` that unpacks as
``winner, counts, groups``: ``counts`` maps key → votes and ``groups`` maps key →
indices of the answers in that group, both ordered winner first. Keys computed
elsewhere (behaviour keys for code, judge keys for free text) go through
:func:`vote_keys`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple, get_args

from thinktank.errors import ConfigError, UsageError
from thinktank.graphs.answers.choice import canonical_choice
from thinktank.graphs.answers.code import canonical_code, extract_code
from thinktank.graphs.answers.numbers import canonical_number
from thinktank.graphs.answers.text import canonical_text

AnswerKind = Literal["number", "choice", "text", "code", "exact"]
"""How replies are canonicalised before voting."""

Canonicalizer = Callable[[str], str | None]
"""A function from a reply to its voting key (``None`` = no answer)."""

TieBreak = Literal["first", "lexical"]

_TASK_KIND_TO_ANSWER: dict[str, AnswerKind] = {
    "math": "number",
    "choice": "choice",
    "text": "text",
    "web": "text",
    "code": "code",
    "swe": "exact",  # a patch: identical diffs vote together (a diff is no Python block)
}


def _code_key(reply: str) -> str | None:
    program = extract_code(reply)
    return canonical_code(program) if program is not None else None


def _exact_key(reply: str) -> str | None:
    return reply.strip() or None


# pure functions of short answers, read again at every wave and selection: remembered
_CANONICALIZERS: dict[str, Canonicalizer] = {
    "number": lru_cache(maxsize=4096)(canonical_number),
    "choice": lru_cache(maxsize=4096)(canonical_choice),
    "text": lru_cache(maxsize=4096)(canonical_text),
    "code": _code_key,
    "exact": _exact_key,
}


def answer_kind_for(task_kind: str) -> AnswerKind:
    """The answer kind used to vote on a task kind (``math`` → ``number``, …)."""
    try:
        return _TASK_KIND_TO_ANSWER[task_kind]
    except KeyError:
        valid = ", ".join(sorted(_TASK_KIND_TO_ANSWER))
        raise ConfigError(f"unknown task kind {task_kind!r}; valid kinds: {valid}") from None


def canonicalizer(kind: AnswerKind | Canonicalizer) -> Canonicalizer:
    """The key function for ``kind`` (a callable is returned unchanged)."""
    if callable(kind):
        return kind
    try:
        return _CANONICALIZERS[kind]
    except KeyError:
        valid = ", ".join(get_args(AnswerKind))
        raise ConfigError(
            f"unknown answer kind {kind!r}; valid kinds: {valid} (or pass a function)"
        ) from None


def canonical_key(answer: str | None, kind: AnswerKind | Canonicalizer = "text") -> str | None:
    """The voting key of one reply, or ``None`` when it has no answer of that kind."""
    if answer is None:
        return None
    return canonicalizer(kind)(answer)


class VoteResult(NamedTuple):
    """Outcome of a vote; unpacks as ``winner, counts, groups``."""

    winner: str | None
    """The winning canonical key, or ``None`` when no reply had an answer."""
    counts: dict[str, float]
    """Votes (or total weight) per key, winner first, then in tie-break order."""
    groups: dict[str, list[int]]
    """Indices of the replies in each group, same order as ``counts``."""

    @property
    def total(self) -> float:
        """Votes cast by replies that had an answer."""
        return sum(self.counts.values())

    @property
    def share(self) -> float:
        """The winner's share of the votes cast (0 when nobody voted)."""
        return (
            self.counts[self.winner] / self.total if self.winner is not None and self.total else 0.0
        )

    @property
    def margin(self) -> float:
        """Winner's votes minus the runner-up's (the winner's votes when alone)."""
        values = list(self.counts.values())
        if not values:
            return 0.0
        return values[0] - (values[1] if len(values) > 1 else 0.0)

    def representative(self, answers: Sequence[str | None]) -> str | None:
        """The first original reply in the winning group."""
        if self.winner is None:
            return None
        return answers[self.groups[self.winner][0]]


def vote_keys(
    keys: Sequence[str | None],
    weights: Sequence[float] | None = None,
    *,
    prefer: Callable[[str], float] | None = None,
    tie_break: TieBreak = "first",
) -> VoteResult:
    """Vote over precomputed keys (``None`` entries abstain)."""
    if weights is not None and len(weights) != len(keys):
        raise UsageError(
            f"weighted vote got {len(keys)} answers but {len(weights)} weights; "
            "pass one weight per answer"
        )
    if weights is not None and any(w < 0 or w != w for w in weights):
        raise UsageError("vote weights must be non-negative numbers; clip or shift the scores")
    if tie_break not in ("first", "lexical"):
        raise ConfigError(f"unknown tie_break {tie_break!r}; valid: first, lexical")
    counts: dict[str, float] = {}
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + (weights[i] if weights is not None else 1)
        groups.setdefault(key, []).append(i)

    def order(key: str) -> tuple[float, float, str | int]:
        bonus = prefer(key) if prefer is not None else 0.0
        tie: str | int = key if tie_break == "lexical" else groups[key][0]
        return (-counts[key], -bonus, tie)

    ranked = sorted(counts, key=order)
    return VoteResult(
        winner=ranked[0] if ranked else None,
        counts={k: counts[k] for k in ranked},
        groups={k: groups[k] for k in ranked},
    )


def vote(
    answers: Sequence[str | None],
    kind: AnswerKind | Canonicalizer = "text",
    *,
    prefer: Callable[[str], float] | None = None,
    tie_break: TieBreak = "first",
) -> VoteResult:
    """Majority vote over the canonical forms of ``answers``.

    >>> winner, counts, groups = vote(["Answer: 42", "\\\\boxed{42.0}", "Answer: 41"], "number")
    >>> winner, counts
    ('42', {'42': 2, '41': 1})
    """
    fn = canonicalizer(kind)
    return vote_keys(
        [fn(a) if a is not None else None for a in answers], prefer=prefer, tie_break=tie_break
    )


def weighted_vote(
    answers: Sequence[str | None],
    weights: Sequence[float],
    kind: AnswerKind | Canonicalizer = "text",
    *,
    prefer: Callable[[str], float] | None = None,
    tie_break: TieBreak = "first",
) -> VoteResult:
    """Like :func:`vote`, each answer counting its weight (e.g. a verifier score).

    Weights must be non-negative and one per answer; the counts are summed weights.
    """
    fn = canonicalizer(kind)
    keys = [fn(a) if a is not None else None for a in answers]
    return vote_keys(keys, weights, prefer=prefer, tie_break=tie_break)
