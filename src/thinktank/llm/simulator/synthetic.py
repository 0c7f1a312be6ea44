"""Synthetic task mode: what each role replies for a prompt about a known question.

For a prompt about a known question the simulator plays one role, chosen from the
*system* messages (patterns in :class:`SyntheticConfig`) and the shape of the user
text (the framework's render conventions, see the README):

* **extractor** — returns ``{"items": [...]}``: one strategy item per boost text
  found in the prompt (a correct solver reply reveals its question's boost);
* **curator** — returns a ``<cheatsheet>`` block listing the boost texts found in
  the prompt (the old sheet, the new attempt, or the retrieved lessons);
* **verifier** — checks the candidate answer in the prompt; says correct with
  probability TPR when it is, FPR when it is not (lower discrimination on hard
  questions, and a blind spot shared by every verifier call on one answer);
* **judge** — the verifier pattern with two or more numbered candidates: picks a
  correct one with probability ``judge_accuracy`` and ends with ``{"best": k}``;
* **critic** — flags each proposed answer it rejects (as a verifier would) and
  endorses the others (``roles="interact"``);
* **reviser** — a refiner, fuser, debater or solver shown earlier answers anchors on
  one of them and keeps it or re-derives, by what the feedback says about it;
* **ceo** — returns a decision: stop when the round agrees (and nothing flags the
  answer), otherwise continue with more critics;
* **solver** — anything else: right with the question's (boosted, skill-adjusted)
  probability, otherwise a plausible wrong answer (mostly the distractor).

Draws (:mod:`.draws`) are hashed, so outcomes do not depend on arrival order.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

from thinktank.llm.simulator.answers import (
    discussion,
    extract_candidate,
    extract_numbered,
    extract_pair,
    feedback_flags,
    normalize_answer,
    shown_answers,
)
from thinktank.llm.simulator.config import ModelProfile, SyntheticConfig
from thinktank.llm.simulator.draws import (
    Context,
    _as_json,
    _clip,
    _filler,
    _first,
    _flatten,
    _pick,
    _revealed,
    curate_reply,
    equivalence_reply,
    extract_reply,
)
from thinktank.llm.simulator.draws import SampleKey as SampleKey
from thinktank.llm.simulator.draws import Sampler as Sampler
from thinktank.llm.simulator.draws import discrimination as discrimination
from thinktank.llm.simulator.draws import toward_chance as toward_chance
from thinktank.llm.simulator.schema import render_json
from thinktank.llm.simulator.tasks import Question, TaskSet


class SyntheticResponder:
    """Builds synthetic replies for prompts about the questions of a :class:`TaskSet`."""

    def __init__(self, cfg: SyntheticConfig, tasks: TaskSet, seed: int) -> None:
        self.cfg = cfg
        self.tasks = tasks
        self.seed = seed
        self._verifier = re.compile(cfg.verifier_pattern)
        self._extractor = re.compile(cfg.extractor_pattern)
        self._curator = re.compile(cfg.curator_pattern)
        self._critic = re.compile(cfg.critic_pattern)
        self._ceo = re.compile(cfg.ceo_pattern)
        self._interact = cfg.roles == "interact"
        self._wrong_weights: dict[str, list[float] | None] = {}

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
        digest = ""
        if self.cfg.prompt_sensitivity > 0:
            digest = hashlib.blake2b(lower.encode(), digest_size=8).hexdigest()
        if sys_text and self._verifier.search(sys_text):
            numbered = extract_numbered(body)
            if len(numbered) >= 2:
                return Context("judge", question, lower, numbered=numbered, digest=digest)
            cand = extract_candidate(body)
            return Context("verifier", question, lower, candidate=cand, digest=digest)
        if self._interact:
            ctx = self._interaction(sys_text, body, question, lower)
            if ctx is not None:
                ctx.digest = digest
                return ctx
        return Context("solver", question, lower, digest=digest)

    def _interaction(self, sys_text: str, body: str, q: Question, lower: str) -> Context | None:
        """A CEO, critic or reviser prompt (``roles="interact"``), else None."""
        speakers = discussion(body)
        if speakers is not None or (sys_text and self._ceo.search(sys_text)):
            flags = feedback_flags(body)
            return Context("ceo", q, lower, speakers=speakers or [], flags=flags)
        if (sys_text and self._critic.search(sys_text)) or "proposed solutions:" in lower:
            numbered = extract_numbered(body)
            if numbered:
                return Context("critic", q, lower, numbered=numbered)
        shown = shown_answers(body)
        if shown is None:
            numbered = extract_numbered(body)
            if not numbered:
                return None
            shown = ("judge", [a for _, a in numbered])
        if not any(a is not None for a in shown[1]):
            return None
        flags = feedback_flags(body)
        return Context("reviser", q, lower, anchor=shown[0], shown=shown[1], flags=flags)

    # --- probabilities ----------------------------------------------------------

    def p_success(self, q: Question, model: str, profile: ModelProfile, prompt_lower: str) -> float:
        """Success probability: base p × multiplier, logit shift, then boosts (clipped)."""
        p = self.p_skill(q, model, profile)
        for b in self.tasks.boosts_for(q):
            if b.text.lower() in prompt_lower:
                p += b.delta
        return _clip(p)

    def p_skill(self, q: Question, model: str, profile: ModelProfile) -> float:
        """The model's success probability on ``q`` before any boost (its difficulty)."""
        p = _clip(q.p_for(model) * profile.success_multiplier)
        if profile.logit_shift and 0.0 < p < 1.0:
            p = 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + profile.logit_shift)))
        return p

    def verifier_rates(self, q: Question, model: str, profile: ModelProfile) -> tuple[float, float]:
        """(TPR, FPR) of ``model`` verifying an answer to ``q``, difficulty applied."""
        tpr = _first(q.verifier_tpr, profile.verifier_tpr, self.cfg.verifier_tpr)
        fpr = _first(q.verifier_fpr, profile.verifier_fpr, self.cfg.verifier_fpr)
        if self.cfg.verifier_difficulty:
            g = discrimination(self.p_skill(q, model, profile), self.cfg.verifier_difficulty)
            tpr, fpr = toward_chance(tpr, fpr, g)
        return tpr, fpr

    def accepts(
        self, q: Question, candidate: str, model: str, profile: ModelProfile, u: float
    ) -> bool:
        """Whether a verifier (critic, self-judge) accepts ``candidate``; ``u`` is its own
        draw, replaced by the shared blind-spot draw of (question, answer) when in it."""
        tpr, fpr = self.verifier_rates(q, model, profile)
        rate = tpr if q.is_correct(candidate) else fpr
        if self.cfg.blind_spot > 0:
            inside, shared = self._shared("verify", q.id, normalize_answer(candidate))
            if inside < self.cfg.blind_spot:
                u = shared
        return u < rate

    def pick(
        self,
        q: Question,
        answers: Sequence[str | None],
        model: str,
        profile: ModelProfile,
        u: tuple[float, float],
    ) -> int:
        """A listwise judge's pick (an index into ``answers``): a correct one with the
        judge's accuracy (toward chance on hard questions; a blind spot shared per
        question), otherwise a wrong one (or any, when none is wrong)."""
        good = [i for i, a in enumerate(answers) if q.is_correct(a)]
        bad = [i for i in range(len(answers)) if i not in good]
        acc = _first(profile.judge_accuracy, self.cfg.judge_accuracy)
        if self.cfg.verifier_difficulty and answers:
            chance = len(good) / len(answers)
            g = discrimination(self.p_skill(q, model, profile), self.cfg.verifier_difficulty)
            acc = chance + (acc - chance) * g
        v = u[0]
        if self.cfg.blind_spot > 0:
            inside, shared = self._shared("judge", q.id)
            if inside < self.cfg.blind_spot:
                v = shared
        pool = good if good and v < acc else (bad or list(range(len(answers))))
        return pool[min(int(u[1] * len(pool)), len(pool) - 1)]

    def _shared(self, *parts: object) -> tuple[float, float]:
        """Two draws shared by every call about ``parts`` (no model, prompt or request seed)."""
        data = repr((self.seed, "shared", *parts)).encode()
        digest = hashlib.blake2b(data, digest_size=16).digest()
        return (
            int.from_bytes(digest[:8], "big") / 2.0**64,
            int.from_bytes(digest[8:], "big") / 2.0**64,
        )

    def _draws(
        self, key: SampleKey, sampler: Sampler, ctx: Context, *parts: object, k: int
    ) -> list[float]:
        """A choice's draws; with ``prompt_sensitivity`` they depend on the whole prompt."""
        s = self.cfg.prompt_sensitivity
        if s > 0 and ctx.digest and (s >= 1 or sampler.draws(key, "sens", *parts, k=1)[0] < s):
            parts = (*parts, ctx.digest)
        return sampler.draws(key, *parts, k=k)

    def wrong_answer(self, q: Question, u: float) -> str:
        """A wrong answer: the distractor with ``distractor_share``, else another one."""
        options, weights = self.tasks.wrong_choices(q)
        if weights is None and self.cfg.distractor_share is not None and len(options) > 1:
            if q.id not in self._wrong_weights:
                share = self.cfg.distractor_share
                rest = (1.0 - share) / (len(options) - 1)
                self._wrong_weights[q.id] = [share, *([rest] * (len(options) - 1))]
            weights = self._wrong_weights[q.id]
        return _pick(options, weights, u)

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
            return extract_reply(self.tasks, ctx, response_format)
        if ctx.role == "curator":
            return curate_reply(self.tasks, ctx)
        if ctx.role == "equivalence":
            return equivalence_reply(ctx, response_format)
        q = ctx.question
        assert q is not None
        if ctx.role == "verifier":
            return self._verify(ctx, q, key, profile, sampler, response_format)
        if ctx.role == "judge":
            return self._judge(ctx, q, key, profile, sampler, response_format)
        if ctx.role == "critic":
            return self._critique(ctx, q, key, profile, sampler, response_format)
        if ctx.role == "ceo":
            return self._decide(ctx, q, key, sampler, response_format)
        if ctx.role == "reviser":
            return self._revise(ctx, q, key, profile, sampler, response_format)
        return self._solve(ctx, q, key, profile, sampler, response_format)

    def _solve(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
               sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        u = self._draws(key, sampler, ctx, "solve", q.id, k=4)
        p = self.p_success(q, key.model, profile, ctx.prompt_lower)
        correct = u[1] < p
        answer = q.answer if correct else self.wrong_answer(q, u[2])
        return self._answer(q, answer, correct, profile, u[0], u[3], fmt)

    def _revise(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
                sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        """Anchor on a shown answer; keep it, or re-derive (rates by what feedback says)."""
        u = self._draws(key, sampler, ctx, "revise", q.id, k=8)
        answers = [a for a in ctx.shown if a is not None]
        if ctx.anchor == "judge":
            anchor = answers[self.pick(q, answers, key.model, profile, (u[0], u[1]))]
        else:
            anchor = answers[min(int(u[0] * len(answers)), len(answers) - 1)]
        flagged, endorsed = ctx.flags.get(normalize_answer(anchor), (0, 0))
        rv = self.cfg.revision
        redo = rv.redo_flagged if flagged > endorsed else rv.redo
        redo = rv.redo_endorsed if endorsed > flagged else redo
        right = q.is_correct(anchor)
        if right and flagged > endorsed and u[2] < rv.yield_flagged:
            answer, correct = self.wrong_answer(q, u[5]), False
        elif u[3] < redo:
            correct = u[4] < self.p_success(q, key.model, profile, ctx.prompt_lower)
            answer = q.answer if correct else self.wrong_answer(q, u[5])
        else:
            answer, correct = anchor, right
        return self._answer(q, answer, correct, profile, u[6], u[7], fmt)

    def _answer(self, q: Question, answer: str, correct: bool, profile: ModelProfile,
                u_none: float, u_text: float, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        """A solver-style reply: reasoning (revealing strategies), then the final answer."""
        reasoning = _filler(profile.reasoning_tokens, u_text)
        if self.cfg.reveal_strategy:
            reasoning += _revealed(self.tasks.boosts_for(q), correct)
        if u_none < self.cfg.p_no_answer:
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
            u = self._draws(key, sampler, ctx, "verify", q.id, normalize_answer(cand), k=2)
            positive = self.accepts(q, cand, key.model, profile, u[0])
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
        answers = tuple(normalize_answer(a or "") for _, a in ctx.numbered)
        u = self._draws(key, sampler, ctx, "judge", q.id, answers, k=2)
        i = self.pick(q, [a for _, a in ctx.numbered], key.model, profile, (u[0], u[1]))
        best = ctx.numbered[i][0]
        result = {"best": best, "rationale": f"Candidate {best} is the most convincing."}
        return _as_json(result, fmt)

    def _critique(self, ctx: Context, q: Question, key: SampleKey, profile: ModelProfile,
                  sampler: Sampler, fmt: dict[str, Any] | None) -> str:  # fmt: skip
        """Flag each proposed answer a verifier would reject; endorse the others."""
        issues: list[str] = []
        suggestions: list[str] = []
        for num, ans in ctx.numbered:
            if ans is None:
                issues.append(f"Candidate {num}: no final answer is stated.")
                continue
            norm = normalize_answer(ans)
            u = self._draws(key, sampler, ctx, "critique", q.id, num, norm, k=1)
            if self.accepts(q, ans, key.model, profile, u[0]):
                suggestions.append(
                    f"Candidate {num}: the candidate {ans!r} matches my own derivation; keep it."
                )
            else:
                issues.append(
                    f"Candidate {num}: the candidate {ans!r} does not match my own derivation; "
                    "recheck each step."
                )
        return _as_json({"issues": issues, "suggestions": suggestions}, fmt)

    def _decide(self, ctx: Context, q: Question, key: SampleKey, sampler: Sampler,
                fmt: dict[str, Any] | None) -> str:  # fmt: skip
        """Stop when the round agrees on an unflagged answer (mostly), else continue."""
        u = self._draws(key, sampler, ctx, "decide", q.id, k=1)
        answers = [a for _, a in ctx.speakers if a is not None]
        support: dict[str, int] = {}
        text: dict[str, str] = {}
        for a in answers:
            norm = normalize_answer(a)
            support[norm] = support.get(norm, 0) + 1
            text.setdefault(norm, a)
        top = max(support, key=lambda k: support[k]) if support else ""
        flagged, endorsed = ctx.flags.get(top, (0, 0))
        flag = flagged > endorsed
        agree = len(support) == 1
        pol = self.cfg.ceo
        p_stop = (pol.stop_flagged if flag else pol.stop_agree) if agree else pol.stop_disagree
        stop = bool(support) and u[0] < p_stop
        if stop:
            direction = "The team agrees; stop here."
        elif len(support) > 1:
            shown = " vs ".join(text[k] for k in sorted(support, key=lambda k: -support[k])[:3])
            direction = f"The answers disagree ({shown}): re-derive the result and check each step."
        elif flag:
            direction = f"A critic flagged the answer {text[top]}: re-check it step by step."
        else:
            direction = "Check the result once more before answering."
        decision = {
            "action": "stop" if stop else "continue",
            "recruit": 0 if stop else min(5, 1 + int(not agree) + int(flag)),
            "direction": direction,
            "token_budget": 0,
            "answer": text.get(top, ""),
        }
        return _as_json(decision, fmt)
