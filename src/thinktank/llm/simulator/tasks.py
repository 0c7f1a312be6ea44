"""Synthetic task sets: questions with known answers, success probabilities and boosts.

A task file is YAML, JSON or JSONL. YAML/JSON hold either a list of questions or
an object ``{"questions": [...], "boosts": [...], "wrong_pool": 3}``; JSONL holds
one question per line. See the package README for the schema and the prompt
conventions the simulator uses to recognise a question.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, model_validator

from thinktank._strict import StrictModel
from thinktank.llm.simulator.answers import normalize_answer, perturb_answer

_ID_MARKER = re.compile(r"\[\s*task(?:[ _-]?id)?\s*[:=]\s*([^\]\s]+)\s*\]", re.IGNORECASE)


def _norm_text(text: str) -> str:
    return " ".join(text.split()).lower()


class Boost(StrictModel):
    """A strategy text that raises success probability when it appears in the prompt."""

    text: str = Field(min_length=1)
    """Phrase that, present in any message of the prompt (case-insensitive), applies the boost."""
    delta: float = 0.2
    """Added to the success probability (after model skill; the result is clipped to [0, 1]).
    Negative for a wrong lesson: a strategy that, in the prompt, lowers it."""
    name: str | None = None
    """Short title, used when the simulator answers memory-extraction prompts."""
    reveal: Literal["auto", "correct", "wrong", "never"] = "auto"
    """Which solver replies mention it (with ``reveal_strategy`` on): ``correct`` ones
    (``Key strategy: <text>.``), ``wrong`` ones (``Approach taken: <text>.``: a lure, the
    idea a failed attempt followed) or none. ``auto``: correct replies, for the question's
    first boost that is not ``wrong`` or ``never``; otherwise none."""
    ids: list[str] = Field(default_factory=list)
    """Top-level boosts only: question ids it applies to (with ``tags``; both empty = all)."""
    tags: list[str] = Field(default_factory=list)
    """Top-level boosts only: it applies to questions carrying any of these tags."""


class Question(StrictModel):
    """One synthetic question with a known answer."""

    id: str
    """Unique id; a prompt may name it with the marker ``[task: <id>]``."""
    question: str = Field(min_length=1)
    """Question text; a prompt containing it (whitespace/case-insensitive) is about this question."""
    answer: str
    """The correct final answer."""
    aliases: list[str] = Field(default_factory=list)
    """Other spellings that also count as correct (compared after normalisation)."""
    p_correct: float | dict[str, float] = 0.5
    """Probability a solver sample is correct; a dict maps model name -> p (key ``default``)."""
    wrong_answers: list[str] = Field(default_factory=list)
    """Plausible wrong answers; empty = perturbations of the answer (``wrong_pool`` of them)."""
    wrong_weights: list[float] | None = None
    """Relative weights of ``wrong_answers`` (uniform when omitted)."""
    boosts: list[Boost] = Field(default_factory=list)
    """Strategies that help on this question."""
    verifier_tpr: float | None = None
    """Overrides the verifier true-positive rate for this question."""
    verifier_fpr: float | None = None
    """Overrides the verifier false-positive rate for this question."""
    tags: list[str] = Field(default_factory=list)
    """Free labels (difficulty, family); top-level boosts select by them."""

    _accepted: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="after")
    def _check(self) -> Question:
        if self.wrong_weights is not None and len(self.wrong_weights) != len(self.wrong_answers):
            raise ValueError(f"question {self.id}: wrong_weights must match wrong_answers")
        ps = self.p_correct.values() if isinstance(self.p_correct, dict) else [self.p_correct]
        if any(not 0.0 <= p <= 1.0 for p in ps):
            raise ValueError(f"question {self.id}: p_correct must lie in [0, 1]")
        self._accepted = frozenset(normalize_answer(a) for a in [self.answer, *self.aliases])
        return self

    def p_for(self, model: str) -> float:
        """Base success probability for ``model`` (before skill and boosts)."""
        if isinstance(self.p_correct, dict):
            return self.p_correct.get(model, self.p_correct.get("default", 0.5))
        return self.p_correct

    def is_correct(self, candidate: str | None) -> bool:
        """Whether a candidate answer equals the answer or an alias after normalisation."""
        return candidate is not None and normalize_answer(candidate) in self._accepted


class TaskSet(StrictModel):
    """A set of questions plus boosts that apply across questions."""

    questions: list[Question] = Field(default_factory=list)
    """The questions; ids must be unique."""
    boosts: list[Boost] = Field(default_factory=list)
    """Boosts selecting questions by ``ids`` / ``tags``."""
    wrong_pool: int = Field(default=3, ge=1)
    """How many perturbed wrong answers a question without ``wrong_answers`` gets."""

    _by_id: dict[str, Question] = PrivateAttr(default_factory=dict)
    _by_text: list[tuple[str, Question]] = PrivateAttr(default_factory=list)
    _wrong: dict[str, tuple[list[str], list[float] | None]] = PrivateAttr(default_factory=dict)
    _boosts: dict[str, list[Boost]] = PrivateAttr(default_factory=dict)
    _found: dict[str, Question | None] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _index(self) -> TaskSet:
        self._by_id = {}
        for q in self.questions:
            if q.id in self._by_id:
                raise ValueError(f"duplicate question id {q.id!r}")
            self._by_id[q.id] = q
        # Longest first, so a question whose text contains another's wins.
        self._by_text = sorted(
            ((_norm_text(q.question), q) for q in self.questions), key=lambda t: -len(t[0])
        )
        return self

    # --- loading ----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> TaskSet:
        """Read a ``.yaml``/``.yml``, ``.json`` or ``.jsonl`` task file."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        data: Any
        if p.suffix == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif p.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if isinstance(data, list):
            data = {"questions": data}
        return cls.model_validate(data)

    def dump(self, path: str | Path) -> Path:
        """Write the set to ``path`` (format chosen by suffix, as in :meth:`load`)."""
        p = Path(path)
        data = self.model_dump(exclude_defaults=True)
        if p.suffix == ".jsonl":
            if self.boosts or self.wrong_pool != 3:
                raise ValueError("JSONL holds questions only; use .json or .yaml for boosts")
            p.write_text("".join(json.dumps(q) + "\n" for q in data.get("questions", [])))
        elif p.suffix in (".yaml", ".yml"):
            p.write_text(yaml.safe_dump(data, sort_keys=False))
        else:
            p.write_text(json.dumps(data, indent=1))
        return p

    # --- lookups ----------------------------------------------------------------

    def get(self, qid: str) -> Question | None:
        return self._by_id.get(qid)

    def find(self, prompt: str) -> Question | None:
        """The question a prompt is about: an ``[task: id]`` marker, else contained text."""
        if prompt in self._found:  # the same prompt is usually sampled many times
            return self._found[prompt]
        if len(self._found) > 4096:
            self._found.clear()
        found = self._find(prompt)
        self._found[prompt] = found
        return found

    def _find(self, prompt: str) -> Question | None:
        for m in _ID_MARKER.finditer(prompt):
            q = self._by_id.get(m.group(1))
            if q is not None:
                return q
        norm = _norm_text(prompt)
        for text, q in self._by_text:
            if text in norm:
                return q
        return None

    def wrong_choices(self, q: Question) -> tuple[list[str], list[float] | None]:
        """The wrong answers a failed sample picks from, with weights."""
        cached = self._wrong.get(q.id)
        if cached is None:
            if q.wrong_answers:
                cached = (q.wrong_answers, q.wrong_weights)
            else:
                cached = (perturb_answer(q.answer, self.wrong_pool, q.id), None)
            self._wrong[q.id] = cached
        return cached

    def boosts_for(self, q: Question) -> list[Boost]:
        """The question's own boosts plus the top-level boosts that select it."""
        cached = self._boosts.get(q.id)
        if cached is None:
            cached = list(q.boosts)
            for b in self.boosts:
                if (not b.ids and not b.tags) or q.id in b.ids or set(b.tags) & set(q.tags):
                    cached.append(b)
            self._boosts[q.id] = cached
        return cached

    def all_boosts(self) -> list[Boost]:
        """Every boost in the set (question-level and top-level)."""
        seen: dict[str, Boost] = {}
        for b in [*self.boosts, *(b for q in self.questions for b in q.boosts)]:
            seen.setdefault(b.text, b)
        return list(seen.values())

    # --- generation -------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        n: int,
        *,
        seed: int = 0,
        p_correct: tuple[float, float] | Sequence[float] | float = (0.05, 0.95),
        families: int = 0,
        boost_delta: float = 0.3,
        lure_delta: float = 0.0,
        wrong_pool: int = 3,
        id_prefix: str = "q",
    ) -> TaskSet:
        """Make ``n`` arithmetic questions with known answers.

        ``p_correct``: a float (all equal), a ``(low, high)`` pair (uniform), or a
        sequence of at least 3 values cycled through (e.g. easy/medium/hard mixes).
        ``families > 0`` groups questions into topics; each topic's questions share
        topic words in their text, a ``family-<k>`` tag and one boost (``boost_delta``)
        whose text is a distinctive strategy phrase — the setup for memory experiments.
        A negative ``boost_delta`` makes that strategy a wrong lesson. ``lure_delta``
        (non-zero, with families) adds a second phrase per family that wrong replies
        mention (``reveal="wrong"``) and that changes success by ``lure_delta`` when a
        prompt holds it: what a memory learns when it takes a failure for a success.
        """
        rng = random.Random(seed)
        fam_boosts = [_family_boost(k, boost_delta) for k in range(families)]
        lures = [_family_lure(k, lure_delta) for k in range(families)] if lure_delta else []
        questions = []
        for i in range(n):
            if isinstance(p_correct, float | int):
                p = float(p_correct)
            elif len(p_correct) == 2:
                p = rng.uniform(p_correct[0], p_correct[1])
            else:
                p = float(p_correct[i % len(p_correct)])
            a, b, c = rng.randint(11, 99), rng.randint(11, 99), rng.randint(2, 9)
            tags: list[str] = []
            boosts: list[Boost] = []
            topic = "arithmetic"
            if families:
                k = i % families
                topic = f"{_WORDS[k % len(_WORDS)]} {_WORDS[(3 * k + 1) % len(_WORDS)]}"
                tags = [f"family-{k}"]
                boosts = [fam_boosts[k], *lures[k : k + 1]]
            questions.append(
                Question(
                    id=f"{id_prefix}{i}",
                    question=f"In the {topic} puzzle number {i}, compute {a} + {b} * {c}.",
                    answer=str(a + b * c),
                    p_correct=round(p, 4),
                    boosts=boosts,
                    tags=tags,
                )
            )
        return cls(questions=questions, wrong_pool=wrong_pool)


_WORDS = [
    "orbit", "prism", "ledger", "harbor", "cobalt", "meadow", "quartz", "tundra",
    "violet", "zephyr", "falcon", "granite", "lantern", "mosaic", "nectar", "saffron",
]  # fmt: skip


def _family_boost(k: int, delta: float) -> Boost:
    w1, w2 = _WORDS[k % len(_WORDS)], _WORDS[(3 * k + 1) % len(_WORDS)]
    return Boost(
        name=f"{w1} {w2} puzzles",
        text=f"{w1}-{w2} rule: multiply before adding, then check the sum",
        delta=delta,
    )


def _family_lure(k: int, delta: float) -> Boost:
    w1, w2 = _WORDS[k % len(_WORDS)], _WORDS[(3 * k + 1) % len(_WORDS)]
    return Boost(
        name=f"{w1} {w2} shortcut",
        text=f"{w1}-{w2} shortcut: add the first two numbers before multiplying",
        delta=delta,
        reveal="wrong",
    )
