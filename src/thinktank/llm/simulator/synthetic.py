"""Synthetic task mode: solver, verifier, judge and memory-extractor replies.

For a prompt about a known question the simulator plays one of four roles,
chosen from the *system* messages (patterns in :class:`SyntheticConfig`):

* **extractor** — returns ``{"items": [...]}``: one strategy item per boost text
  found in the prompt (a correct solver reply reveals its question's boost);
* **curator** — returns a ``<cheatsheet>`` block listing the boost texts found in
  the prompt (the old sheet, the new attempt, or the retrieved lessons);
* **verifier** — checks the candidate answer in the prompt; says correct with
  probability TPR when it is, FPR when it is not; ends with a JSON verdict;
* **judge** — the verifier pattern with two or more numbered candidates: picks a
  correct one with probability ``judge_accuracy`` and ends with ``{"best": k}``;
* **solver** — anything else: right with the question's (boosted, skill-adjusted)
  probability, otherwise a plausible wrong answer; ends with ``Answer: X``.

Randomness comes from :class:`Sampler`, which hashes the configured seed, model,
question, role inputs, the request's ``seed`` and the choice index, so outcomes do
not depend on arrival order when clients send seeds.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from thinktank.llm.simulator.answers import (
    extract_candidate,
    extract_numbered,
    extract_pair,
    normalize_answer,
)
from thinktank.llm.simulator.config import ModelProfile, SyntheticConfig
from thinktank.llm.simulator.schema import render_json
from thinktank.llm.simulator.tasks import Question, TaskSet

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


class SyntheticResponder:
    """Builds synthetic replies for prompts about the questions of a :class:`TaskSet`."""

    def __init__(self, cfg: SyntheticConfig, tasks: TaskSet, seed: int) -> None:
        self.cfg = cfg
        self.tasks = tasks
        self.seed = seed
        self._verifier = re.compile(cfg.verifier_pattern)
        self._extractor = re.compile(cfg.extractor_pattern)
        self._curator = re.compile(cfg.curator_pattern)

    # --- reading the request ----------------------------------------------------

    def read(self, messages: list[dict[str, Any]]) -> Context | None:
        """Classify a request; None when it names no known question (and is no extraction)."""
        system: list[str] = []
        other: list[str] = []
        for m in messages:
            content = m.get("content")
            if not isinstance(content, str):
                content = _flatten(content)
            (system if m.get("role") in ("system", "developer") else other).append(content)
        sys_text, body = "\n".join(system), "\n".join(other)
        full = f"{sys_text}\n{body}"
        lower = full.lower()
        if sys_text and self._extractor.search(sys_text):
            return Context(role="extractor", question=None, prompt_lower=lower)
        if sys_text and self._curator.search(sys_text):
            return Context(role="curator", question=None, prompt_lower=lower)
        pair = extract_pair(body)
        if pair is not None:
            return Context(role="equivalence", question=None, prompt_lower=lower, pair=pair)
        question = self.tasks.find(full)
        if question is None:
            return None
        if sys_text and self._verifier.search(sys_text):
            numbered = extract_numbered(body)
            if len(numbered) >= 2:
                return Context("judge", question, lower, numbered=numbered)
            return Context("verifier", question, lower, candidate=extract_candidate(body))
        return Context("solver", question, lower)

    # --- probabilities ----------------------------------------------------------

    def p_success(self, q: Question, model: str, profile: ModelProfile, prompt_lower: str) -> float:
        """Success probability: base p × multiplier, logit shift, then boosts (clipped)."""
        p = _clip(q.p_for(model) * profile.success_multiplier)
        if profile.logit_shift and 0.0 < p < 1.0:
            p = 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + profile.logit_shift)))
        for b in self.tasks.boosts_for(q):
            if b.text.lower() in prompt_lower:
                p += b.delta
        return _clip(p)

    # --- replies ----------------------------------------------------------------

    def reply(
        self,
        ctx: Context,
        key: SampleKey,
        profile: ModelProfile,
        sampler: Sampler,
        response_format: dict[str, Any] | None,
    ) -> str:
        """The reply text of one choice."""
        if ctx.role == "extractor":
            return self._extract(ctx, response_format)
        if ctx.role == "curator":
            return self._curate(ctx)
        if ctx.role == "equivalence":
            return self._equivalence(ctx, response_format)
        q = ctx.question
        assert q is not None
        if ctx.role == "verifier":
            return self._verify(ctx, q, key, profile, sampler, response_format)
        if ctx.role == "judge":
            return self._judge(ctx, q, key, profile, sampler, response_format)
        return self._solve(ctx, q, key, profile, sampler, response_format)

    def _solve(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
               sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        u = sampler.draws(key, "solve", q.id, k=4)
        p = self.p_success(q, key.model, profile, ctx.prompt_lower)
        correct = u[1] < p
        if correct:
            answer = q.answer
        else:
            options, weights = self.tasks.wrong_choices(q)
            answer = _pick(options, weights, u[2])
        reasoning = _filler(profile.reasoning_tokens, u[3])
        boosts = self.tasks.boosts_for(q)
        if correct and self.cfg.reveal_strategy and boosts:
            reasoning += f" Key strategy: {boosts[0].text}."
        if u[0] < self.cfg.p_no_answer:
            return reasoning + " I could not settle on a final result."
        if fmt and fmt.get("type") in ("json_object", "json_schema"):
            return render_json({"reasoning": reasoning, "answer": answer}, fmt)
        lines = [reasoning]
        if self.cfg.answer_format in ("both", "boxed"):
            lines.append(f"Therefore the answer is \\boxed{{{answer}}}.")
        if self.cfg.answer_format in ("both", "answer_line"):
            lines.append(f"Answer: {answer}")
        return "\n".join(lines)

    def _verify(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
                sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        cand = ctx.candidate
        verdict: dict[str, Any]
        if cand is None:
            verdict = {"verdict": False, "correct": False, "score": 0.0}
            verdict["rationale"] = "No candidate answer was given."
        else:
            ok = q.is_correct(cand)
            if ok:
                rate = _first(q.verifier_tpr, profile.verifier_tpr, self.cfg.verifier_tpr)
            else:
                rate = _first(q.verifier_fpr, profile.verifier_fpr, self.cfg.verifier_fpr)
            u = sampler.draws(key, "verify", q.id, normalize_answer(cand), k=2)
            positive = u[0] < rate
            verdict = {
                "verdict": positive,
                "correct": positive,
                "score": round(0.5 + 0.5 * u[1] if positive else 0.499 * u[1], 3),
                "rationale": f"The candidate {cand!r} "
                f"{'matches' if positive else 'does not match'} my own derivation.",
            }
        return _as_json(verdict, fmt)

    def _judge(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
               sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        nums = [n for n, _ in ctx.numbered]
        good = [n for n, a in ctx.numbered if q.is_correct(a)]
        bad = [n for n in nums if n not in good]
        answers = tuple(normalize_answer(a or "") for _, a in ctx.numbered)
        u = sampler.draws(key, "judge", q.id, answers, k=2)
        acc = _first(profile.judge_accuracy, self.cfg.judge_accuracy)
        pool = good if good and u[0] < acc else (bad or nums)
        best = pool[min(int(u[1] * len(pool)), len(pool) - 1)]
        result = {"best": best, "rationale": f"Candidate {best} is the most convincing."}
        return _as_json(result, fmt)

    def _equivalence(self, ctx: Context, fmt: dict[str, Any] | None) -> str:
        a, b = ctx.pair or ("", "")
        same = normalize_answer(a) == normalize_answer(b)
        result = {
            "equivalent": same,
            "reason": "Both give the same final answer." if same else "The answers differ.",
        }
        return _as_json(result, fmt)

    def _extract(self, ctx: Context, fmt: dict[str, Any] | None) -> str:
        items = []
        for b in self.tasks.all_boosts():
            if b.text.lower() in ctx.prompt_lower:
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

    def _curate(self, ctx: Context) -> str:
        lines = [
            f"- {b.name or b.text[:60]}: {b.text}"
            for b in self.tasks.all_boosts()
            if b.text.lower() in ctx.prompt_lower
        ]
        body = "\n".join(lines) or "- Work step by step and check the result before answering."
        return f"<cheatsheet>\n{body}\n</cheatsheet>"


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
