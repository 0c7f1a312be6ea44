"""The synthetic responder's randomness and text helpers: :class:`Sampler` (hashed,
reproducible draws), :class:`SampleKey`, the parsed request (:class:`Context`),
discrimination that falls with difficulty, and the reply text pieces."""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from thinktank.llm.simulator.answers import normalize_answer
from thinktank.llm.simulator.schema import render_json
from thinktank.llm.simulator.tasks import Boost, Question, TaskSet

_FILLER = (
    "First, restate what the question asks for.",
    "Next, identify the quantities involved and how they relate.",
    "Work through the computation one step at a time.",
    "Check each intermediate result before moving on.",
    "Consider whether any detail of the wording changes the approach.",
    "Combine the partial results carefully.",
    "Double-check the arithmetic for slips.",
    "Make sure the final result answers exactly what was asked.",
)


@dataclass(frozen=True)
class SampleKey:
    """What one choice's randomness depends on."""

    seed: int
    model: str
    request_seed: Any
    temperature: float | None
    index: int


class Sampler:
    """Uniform draws for one choice: hashed when reproducible, else a seeded RNG.

    Temperature 0 draws depend on (seed, model, inputs) only, so greedy samples of
    one prompt agree. A request ``seed`` adds ``seed + choice index``. Without one,
    the server-wide RNG (seeded by the configured seed) is used, which depends on order.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def draws(self, key: SampleKey, *parts: object, k: int = 4) -> list[float]:
        if key.temperature == 0:
            tag: tuple[object, ...] = ("greedy",)
        elif isinstance(key.request_seed, int):
            # seed + index: choice i of a native n=k request with seed s draws exactly like
            # a fanned-out n=1 request with seed s+i (what thinktank's client sends).
            tag = ("seed", key.request_seed + key.index)
        elif key.request_seed is not None:
            tag = ("seed", repr(key.request_seed), key.index)
        else:
            return [self.rng.random() for _ in range(k)]
        data = repr((key.seed, key.model, *parts, *tag)).encode()
        digest = hashlib.blake2b(data, digest_size=8 * k).digest()
        return [int.from_bytes(digest[8 * i : 8 * i + 8], "big") / 2.0**64 for i in range(k)]


@dataclass
class Context:
    """What the simulator read from one request (shared by its ``n`` choices)."""

    role: str
    question: Question | None
    prompt_lower: str
    candidate: str | None = None
    numbered: list[tuple[int, str | None]] = field(default_factory=list)
    pair: tuple[str, str] | None = None
    digest: str = ""
    """A hash of the whole prompt (set when draws depend on it)."""
    anchor: str = ""
    """How a reviser picks the answer it revises: ``target``, ``support`` or ``judge``."""
    shown: list[str | None] = field(default_factory=list)
    """Answers a reviser is shown."""
    flags: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per normalised answer: (flagged, endorsed) counts in the prompt's feedback."""
    speakers: list[tuple[str, str | None]] = field(default_factory=list)
    """A CEO's round: (role, answer) per contribution."""


def _clip(p: float) -> float:
    return 0.0 if p < 0.0 else 1.0 if p > 1.0 else p


def _pick(options: list[str], weights: list[float] | None, u: float) -> str:
    if not weights:
        return options[min(int(u * len(options)), len(options) - 1)]
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    return options[min(bisect.bisect_right(cum, u * total), len(options) - 1)]


def discrimination(p: float, difficulty: float) -> float:
    """How much of a verifier's discrimination is left on a question the verifying model
    solves with probability ``p``: ``1 - difficulty * (1 - p)``."""
    return 1.0 - difficulty * (1.0 - p)


def toward_chance(tpr: float, fpr: float, g: float) -> tuple[float, float]:
    """(TPR, FPR) with their gap scaled by ``g`` around their midpoint (clipped to [0, 1])."""
    mid = (tpr + fpr) / 2
    return _clip(mid + (tpr - mid) * g), _clip(mid + (fpr - mid) * g)


def _revealed(boosts: list[Boost], correct: bool) -> str:
    """What a reply says of its question's strategies (memory experiments)."""
    out = ""
    auto = True
    for b in boosts:
        if b.reveal == "correct" or (b.reveal == "auto" and auto):
            if correct:
                out += f" Key strategy: {b.text}."
            auto = False
        elif b.reveal == "wrong" and not correct:
            out += f" Approach taken: {b.text}."
    return out


_ATTEMPT = re.compile(r"^#+ *(?:new )?attempt\b[^\n]*?\((?:outcome: *)?([a-z ]+)\)[ \t]*$", re.M)
_OUTCOME = re.compile(r"^outcome: *(success|failure)\b", re.M)


def _success_text(lower: str) -> str:
    """The part of a (lower-case) learner prompt presented as a success: attempt sections
    marked success and what precedes the first attempt; nothing of a failed attempt."""
    heads = list(_ATTEMPT.finditer(lower))
    if heads:
        parts = [lower[: heads[0].start()]]
        for k, h in enumerate(heads):
            end = heads[k + 1].start() if k + 1 < len(heads) else len(lower)
            if h.group(1).strip() == "success":
                parts.append(lower[h.end() : end])
        return "\n".join(parts)
    m = _OUTCOME.search(lower)
    return "" if m is not None and m.group(1) == "failure" else lower


def _as_json(payload: dict[str, Any], fmt: dict[str, Any] | None) -> str:
    """Role replies are one JSON object (schema-shaped when a json_schema is requested)."""
    return render_json(payload, fmt) if fmt else json.dumps(payload)


def _first(*values: float | None) -> float:
    for v in values:
        if v is not None:
            return v
    return 0.0


def _filler(tokens: int, u: float) -> str:
    """Reasoning-like text of about ``tokens`` tokens (≈4 characters each)."""
    out: list[str] = []
    size, i = 0, int(u * len(_FILLER))
    while size < tokens * 4 or not out:
        s = _FILLER[i % len(_FILLER)]
        out.append(s)
        size += len(s) + 1
        i += 1
    return " ".join(out)


def _flatten(content: Any) -> str:
    """Text of a multi-part content list (``[{"type": "text", "text": ...}]``)."""
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else str(content)


def equivalence_reply(ctx: Context, fmt: dict[str, Any] | None) -> str:
    """The equivalence judge's reply: whether the two answers in the prompt agree."""
    a, b = ctx.pair or ("", "")
    same = normalize_answer(a) == normalize_answer(b)
    result = {
        "equivalent": same,
        "reason": "Both give the same final answer." if same else "The answers differ.",
    }
    return _as_json(result, fmt)


def present_boosts(tasks: TaskSet, prompt_lower: str) -> list[Boost]:
    """The boosts whose text the prompt holds; a lure (negative ``delta``) only where
    the prompt presents it as part of a success (a learner told an attempt failed
    does not adopt the approach it took)."""
    found = [b for b in tasks.all_boosts() if b.text.lower() in prompt_lower]
    if not any(b.delta < 0 for b in found):
        return found
    endorsed = _success_text(prompt_lower)
    return [b for b in found if b.delta >= 0 or b.text.lower() in endorsed]


def extract_reply(tasks: TaskSet, ctx: Context, fmt: dict[str, Any] | None) -> str:
    """The memory extractor's reply: a strategy item per boost the prompt presents."""
    items = []
    for b in present_boosts(tasks, ctx.prompt_lower):
        title = b.name or b.text[:60]
        items.append(
            {
                "title": title,
                "description": f"Use for {title}.",
                "content": b.text,
                "kind": "strategy",
            }
        )
    return _as_json({"items": items}, fmt)


def curate_reply(tasks: TaskSet, ctx: Context) -> str:
    """The cheatsheet curator's reply: the boosts the prompt presents."""
    lines = [
        f"- {b.name or b.text[:60]}: {b.text}" for b in present_boosts(tasks, ctx.prompt_lower)
    ]
    body = "\n".join(lines) or "- Work step by step and check the result before answering."
    return f"<cheatsheet>\n{body}\n</cheatsheet>"
