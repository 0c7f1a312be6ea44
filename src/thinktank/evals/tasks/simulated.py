"""Bundled suites served by the simulator: known answers, per-question accuracies.

``thinktank models simulate --suite math`` turns a suite's tasks into the
simulator's synthetic task set (:class:`~thinktank.llm.simulator.TaskSet`): each
task's prompt is the question text the simulator recognises, its expected answer
the known answer, and a success probability ``p_correct`` per question, drawn from
a seeded spread (:class:`AccuracySpread`, default ``beta:2,1.25``) or set per task.
A failed sample answers one of ``wrong_answers`` plausible wrong answers of the
same shape as the right one (nearby numbers, slipped fractions, Game-of-24
expressions with one operator changed, other questions' answers for text), the
first of them ``distractor`` times as likely as each other one — real wrong answers
cluster, so a majority vote can settle on the wrong one.

Which suites it means something for:

* ``math``, ``game24`` — exact answers (numbers, fractions, expressions): yes;
* ``web`` and task files of kind ``choice``, ``text`` or ``web`` with an expected
  answer — yes, for selection (voting, verifiers, judges) over short answers; the
  simulator answers directly and never calls tools, so it says nothing about search;
* ``code``, ``swe`` — no (:data:`UNSUPPORTED`): their answers are programs and patches
  judged by running tests, and the simulator only states final answers.

The simulator itself is in :mod:`thinktank.llm.simulator`; this module only
prepares its task set (suites live in ``evals``, a layer above it).
"""

from __future__ import annotations

import hashlib
import random
import re
import statistics
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, model_validator

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task
    from thinktank.llm.simulator import SimulatorConfig, TaskSet

DEFAULT_SPREAD = "beta:2,1.25"
"""Per-question accuracies: mean 0.62, one question in five below 0.375 (where the
default distractor beats the right answer in a vote), a few near 0 and near 1 — roughly
how a mid-sized model fares on grade-school word problems."""

UNSUPPORTED: dict[str, str] = {
    "code": (
        "code answers are programs judged by hidden tests; the simulator only states a "
        "final answer, it writes no program that could pass or fail them"
    ),
    "swe": (
        "SWE answers are repository patches made with tools and judged by running tests "
        "in Docker; the simulator neither calls tools nor writes patches"
    ),
}
"""Task kinds the simulator cannot serve, with why."""

_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_FRACTION = re.compile(r"([+-]?\d+)\s*/\s*(\d+)")
_DIGITS = re.compile(r"\d[\d,]*(\.\d+)?")


class AccuracySpread(StrictModel):
    """How per-question success probabilities are drawn (one seeded draw per task id)."""

    dist: Literal["beta", "uniform", "fixed"] = "beta"
    """``beta`` (shape ``a``, ``b``), ``uniform`` (between ``a`` and ``b``) or ``fixed`` (``a``)."""
    a: float = Field(default=2.0, ge=0)
    """Beta's alpha, uniform's low end, or the fixed probability."""
    b: float = Field(default=1.25, ge=0)
    """Beta's beta, or uniform's high end (unused when fixed)."""

    @model_validator(mode="after")
    def _check(self) -> AccuracySpread:
        if self.dist == "beta" and (self.a <= 0 or self.b <= 0):
            raise ValueError("beta shapes must be positive")
        if self.dist != "beta" and not 0 <= self.a <= (self.b if self.dist == "uniform" else 1):
            raise ValueError("probabilities must lie in [0, 1] (uniform: low <= high)")
        if self.dist == "uniform" and self.b > 1:
            raise ValueError("probabilities must lie in [0, 1]")
        return self

    @classmethod
    def parse(cls, text: str) -> AccuracySpread:
        """``beta:A,B``, ``uniform:LOW,HIGH`` or a probability (the same for every question)."""
        name, sep, rest = text.strip().partition(":")
        try:
            if not sep:
                return cls(dist="fixed", a=float(name))
            values = [float(v) for v in rest.split(",")]
            if name in ("beta", "uniform") and len(values) == 2:
                return cls(dist=name, a=values[0], b=values[1])  # type: ignore[arg-type]
        except ValidationError as exc:
            why = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise ConfigError(f"bad accuracy spread {text!r}: {why}") from None
        except ValueError as exc:
            raise ConfigError(f"bad accuracy spread {text!r}: {exc}") from None
        raise ConfigError(
            f"bad accuracy spread {text!r}; use beta:A,B, uniform:LOW,HIGH or a probability"
        )

    def draw(self, key: str, seed: int) -> float:
        """The probability of the question ``key`` (the same for the same seed and key)."""
        rng = random.Random(f"{seed}:{key}")
        if self.dist == "fixed":
            return self.a
        if self.dist == "uniform":
            return round(rng.uniform(self.a, self.b), 4)
        return round(rng.betavariate(self.a, self.b), 4)

    def __str__(self) -> str:
        if self.dist == "fixed":
            return f"{self.a:g} for every question"
        name = "Beta" if self.dist == "beta" else "Uniform"
        return f"{name}({self.a:g}, {self.b:g})"


class SuiteSimulation(StrictModel):
    """How a suite's tasks become the simulator's questions."""

    accuracy: AccuracySpread = Field(default_factory=lambda: AccuracySpread.parse(DEFAULT_SPREAD))
    """Spread the per-question success probabilities are drawn from."""
    accuracies: dict[str, float] = Field(default_factory=dict)
    """Task id → success probability, overriding the draw for those tasks."""
    seed: int = 0
    """Seed of the draws (the simulator's own sampling has its own seed)."""
    wrong_answers: int = Field(default=3, ge=1)
    """Wrong answers a failed sample picks from."""
    distractor: float = Field(default=3.0, ge=0)
    """Weight of the first wrong answer against 1 for each other one (3 with 3 wrong
    answers: 60% of wrong samples agree, so a vote settles on it when the right answer's
    probability is below 0.375)."""
    verifier_tpr: float | None = Field(default=None, ge=0, le=1)
    """P(a verifier accepts a right answer); None keeps the simulator's (0.9)."""
    verifier_fpr: float | None = Field(default=None, ge=0, le=1)
    """P(a verifier accepts a wrong answer); None keeps the simulator's (0.1)."""

    @model_validator(mode="after")
    def _check(self) -> SuiteSimulation:
        bad = {k: p for k, p in self.accuracies.items() if not 0.0 <= p <= 1.0}
        if bad:
            raise ValueError(f"accuracies must lie in [0, 1]: {bad}")
        return self

    def task_set(self, tasks: Sequence[Task]) -> TaskSet:
        """The simulator's questions for ``tasks`` (refuses kinds it cannot serve)."""
        from thinktank.llm.simulator import Question, TaskSet

        problems: dict[str, list[str]] = {}
        for t in tasks:
            if why := unsupported_reason(t):
                problems.setdefault(why, []).append(t.id)
        if problems:
            raise ConfigError(
                "the simulator cannot serve "
                + "; ".join(
                    f"{len(ids)} task(s) ({', '.join(ids[:2])}{', …' if len(ids) > 2 else ''}): "
                    f"{why}"
                    for why, ids in problems.items()
                )
                + f" (supported: math, game24, web; not {', '.join(UNSUPPORTED)})"
            )
        unknown = sorted(set(self.accuracies) - {t.id for t in tasks})
        if unknown:
            raise ConfigError(f"accuracies name tasks that are not in the suite: {unknown[:5]}")
        pool = [a for t in tasks for a in _accepted(t)[:1]]
        questions = []
        for t in tasks:
            accepted = _accepted(t)
            wrong = _wrong_answers(t, accepted, pool, self.wrong_answers)
            p = self.accuracies.get(t.id)
            questions.append(
                Question(
                    id=t.id,
                    question=t.prompt,
                    answer=accepted[0],
                    aliases=accepted[1:],
                    p_correct=self.accuracy.draw(t.id, self.seed) if p is None else p,
                    wrong_answers=wrong,
                    wrong_weights=[self.distractor if i == 0 else 1.0 for i in range(len(wrong))],
                    tags=t.tags,
                )
            )
        return TaskSet(questions=questions)


def unsupported_reason(task: Task) -> str | None:
    """Why the simulator cannot serve ``task``, or ``None`` when it can."""
    if task.kind in UNSUPPORTED:
        return UNSUPPORTED[task.kind]
    if task.evaluator_config().type == "code_tests":
        return UNSUPPORTED["code"]
    if task.expected is None:
        return "it has no expected answer for the simulator to give"
    if task.evaluator_config().type == "game24" and not _game24_solution(task):
        return "its Game-of-24 hand has no solution"
    return None


def simulator_config(
    tasks: Sequence[Task],
    simulation: SuiteSimulation | None = None,
    base: SimulatorConfig | None = None,
) -> SimulatorConfig:
    """A simulator config serving ``tasks`` in synthetic mode.

    ``base`` keeps its other settings (latency, faults, models, verifier rates, inline
    questions, which come first); the simulation's verifier rates, when set, win.
    """
    from thinktank.llm.simulator import SimulatorConfig, SyntheticConfig

    simulation = simulation or SuiteSimulation()
    questions = simulation.task_set(tasks)
    cfg = base or SimulatorConfig()
    synth = cfg.synthetic or SyntheticConfig()
    update: dict[str, Any] = {"tasks": questions}
    if synth.tasks is not None:  # inline questions of the base config stay, suite ones added
        update["tasks"] = type(questions)(
            questions=[*synth.tasks.questions, *questions.questions], boosts=synth.tasks.boosts
        )
    if simulation.verifier_tpr is not None:
        update["verifier_tpr"] = simulation.verifier_tpr
    if simulation.verifier_fpr is not None:
        update["verifier_fpr"] = simulation.verifier_fpr
    synth = SyntheticConfig.model_validate({**synth.model_dump(), **update})
    return cfg.model_copy(update={"synthetic": synth})


def describe(questions: TaskSet, simulation: SuiteSimulation | None = None) -> str:
    """One line: how many questions and how their accuracies are spread."""
    sim = simulation or SuiteSimulation()
    ps = sorted(q.p_for("sim") for q in questions.questions)
    if not ps:
        return "no questions"
    q1, med, q3 = statistics.quantiles(ps, n=4) if len(ps) > 1 else (ps[0],) * 3
    fixed = f", {len(sim.accuracies)} set by hand" if sim.accuracies else ""
    drawn = (
        f"{sim.accuracy}{fixed}"
        if sim.accuracy.dist == "fixed"
        else f"from {sim.accuracy} (seed {sim.seed}{fixed})"
    )
    return (
        f"{len(ps)} questions; p(correct) {drawn}: "
        f"mean {statistics.fmean(ps):.2f}, quartiles {q1:.2f} / {med:.2f} / {q3:.2f}, "
        f"range {ps[0]:.2f}-{ps[-1]:.2f}"
    )


def load_accuracies(path: str) -> dict[str, float]:
    """A YAML or JSON file mapping task id to success probability."""
    from pathlib import Path

    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read accuracies file {p}: {exc}") from exc
    if not isinstance(data, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in data.values()
    ):
        raise ConfigError(f"{p} must map task ids to probabilities (id: 0.7)")
    return {str(k): float(v) for k, v in data.items()}


# --- answers -------------------------------------------------------------------------------


def _accepted(task: Task) -> list[str]:
    """The answer the simulator gives when right, then other accepted spellings."""
    if task.evaluator_config().type == "game24":
        return [_game24_solution(task) or ""]
    exp = task.expected
    values = [str(v) for v in exp] if isinstance(exp, list) else [str(exp)]
    aliases = [str(a) for a in task.metadata.get("aliases") or []]
    return list(dict.fromkeys(v for v in [*values, *aliases] if v.strip()))


def _game24_solution(task: Task) -> str | None:
    solution = task.metadata.get("solution")
    if isinstance(solution, str) and solution:
        return solution
    from thinktank.evals.tasks.suites.game24 import solve

    numbers = task.metadata.get("numbers")
    if not isinstance(numbers, list):
        return None
    return solve(numbers, int(task.expected or 24))


def _rotate(options: list[str], salt: str) -> list[str]:
    if not options:
        return options
    h = int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=4).digest(), "big")
    k = h % len(options)
    return options[k:] + options[:k]


def _wrong_answers(task: Task, accepted: list[str], pool: list[str], k: int) -> list[str]:
    """``k`` plausible wrong answers of the same shape as the right one (deterministic)."""
    from thinktank.llm.simulator import normalize_answer
    from thinktank.llm.simulator.answers import perturb_answer

    answer = accepted[0]
    right = {normalize_answer(a) for a in accepted}
    if task.evaluator_config().type == "game24":
        options = _game24_slips(task, answer)
    elif _FRACTION.fullmatch(answer.strip()):
        options = _fraction_slips(answer.strip())
    elif _NUMBER.fullmatch(answer.strip()) and "." in answer:
        options = _decimal_slips(answer.strip())
    elif _NUMBER.fullmatch(answer.strip()) or len(answer.strip()) == 1:
        options = perturb_answer(answer, max(k, 6), task.id)
    elif _DIGITS.search(answer):  # a quantity in words ("55 minutes"): the number slips
        m = _DIGITS.search(answer)
        assert m is not None
        num = m.group(0).replace(",", "")
        slips = _decimal_slips(num) if "." in num else perturb_answer(num, 6, task.id)
        options = [answer[: m.start()] + x + answer[m.end() :] for x in slips]
    else:  # a name or phrase: other questions' answers, those shaped like this one first
        others = [a for a in pool if not _DIGITS.search(a) and normalize_answer(a) not in right]
        options = [a for a in others if _shape(a) == _shape(answer)] or others
    out: list[str] = []
    for cand in _rotate(options, task.id):
        key = normalize_answer(cand)
        if key not in right and key not in {normalize_answer(o) for o in out}:
            out.append(cand)
    out = out[:k]
    i = 1
    while len(out) < k:  # too few of the right shape: marked variants (always wrong)
        out.append(f"{answer} (variant {i})")
        i += 1
    return out


def _shape(text: str) -> tuple[int, bool]:
    """Word count (up to 3) and capitalisation: a one-word place, a two-word name, a phrase."""
    return min(len(text.split()), 3), text[:1].isupper()


def _fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):g}"


def _decimal_slips(answer: str) -> list[str]:
    v = Fraction(answer)
    return [_fmt(c) for c in (v + 1, v - 1, v * 10, v / 10, v + Fraction(1, 2), v * 2)]


def _fraction_slips(answer: str) -> list[str]:
    m = _FRACTION.fullmatch(answer)
    assert m is not None
    a, b = int(m.group(1)), int(m.group(2))
    out = [f"{a + 1}/{b}", f"{a}/{b + 1}", f"{b}/{a}" if a else f"1/{b}", f"{a - 1}/{b}"]
    return [o for o in out if not o.endswith("/0")]


def _game24_slips(task: Task, solution: str) -> list[str]:
    """The solution with one operator changed, where the result is no longer the target."""
    from thinktank.evals.tasks.suites.game24 import check_expression

    numbers = task.metadata.get("numbers") or []
    target = int(task.expected or 24)
    out = []
    for i, ch in enumerate(solution):
        if ch in "+-*/":
            for op in "+-*/":
                cand = solution[:i] + op + solution[i + 1 :]
                ok, why = check_expression(cand, numbers, target)
                if op != ch and not ok and why.startswith("evaluates to"):
                    out.append(cand)
    return out
