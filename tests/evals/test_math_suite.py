"""Every bundled math answer recomputed in Python; the Game-of-24 generator, solver and checker."""

from __future__ import annotations

import math
from fractions import Fraction as F
from itertools import product

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators import evaluate
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.suites.bundled import load_word_problems
from thinktank.evals.tasks.suites.game24 import check_expression, generate_hands, solve
from thinktank.graphs.answers.numbers import to_number


def _divisors(n: int) -> int:
    return sum(1 for d in range(1, n + 1) if n % d == 0)


def _primes_below(n: int) -> int:
    return sum(1 for k in range(2, n) if all(k % d for d in range(2, math.isqrt(k) + 1)))


def _trailing_zeros(n: int) -> int:
    s = str(math.factorial(n))
    return len(s) - len(s.rstrip("0"))


def _crt_61() -> int:
    return next(k for k in range(2, 1000) if all(k % d == 1 for d in (2, 3, 4, 5, 6)))


def _dice_8() -> F:
    return F(sum(1 for a, b in product(range(1, 7), repeat=2) if a + b == 8), 36)


def _students() -> int:
    # walkers 3/8, bus 1/3 of the remaining 5/8, driven = the rest = 20
    return next(n for n in range(1, 500) if n - F(3, 8) * n - F(1, 3) * F(5, 8) * n == 20)


def _cows() -> int:
    return next(c for c in range(31) if 4 * c + 2 * (30 - c) == 86)


def _ana() -> int:
    son = next(s for s in range(1, 100) if 4 * s + 20 == 2 * (s + 20))
    return 4 * son


def _clock_330() -> F:
    hour = F(3 * 30) + F(30, 60) * 30
    minute = F(30 * 6)
    diff = abs(hour - minute)
    return min(diff, 360 - diff)


COMPUTED = {
    "math-001": 4 * 3 + 6 * F("1.25"),
    "math-002": F(180) / F("2.5") * 4,
    "math-003": sum(range(1, 251)),
    "math-004": 15 * (46 // 2 - 15),
    "math-005": F(3, 4) - F(2, 5),
    "math-006": 80 * F(75, 100) * F(110, 100),
    "math-007": _divisors(360),
    "math-008": math.lcm(12, 18, 30),
    "math-009": F(1200, 45 - 5),
    "math-010": _ana(),
    "math-011": math.factorial(5),
    "math-012": math.comb(8, 3),
    "math-013": pow(2, 100, 7),
    "math-014": 5 * 18 - (12 + 15 + 20 + 25),
    "math-015": F("4.20") / 12 * 100,
    "math-016": F(48) / (F(24, 12) + F(24, 8)),
    "math-017": 17 * 23 - 144 // 12,
    "math-018": F(52 - 7, 3),
    "math-019": (50 + 14) // 2,
    "math-020": F(4000) * F(15, 100) * F(15, 100),
    "math-021": F(9, 4) * 30 / 12,
    "math-022": 3 * 7 * 24 * 60,
    "math-023": F(10**2, 2),
    "math-024": math.isqrt(20**2 + 21**2),
    "math-025": math.gcd(1071, 462),
    "math-026": 5000 + 5000 * F(4, 100) * 6,
    "math-027": 1000 * F(11, 10) ** 3,
    "math-028": F("6.5") * 340 / 100,
    "math-029": _primes_below(101),
    "math-030": 7 + 39 * 4,
    "math-031": sum(3 * 2**i for i in range(10)),
    "math-032": F(400 - 130, 18),
    "math-033": F(4 + 5, 4 + 5 + 6),
    "math-034": _dice_8(),
    "math-035": F(276_000 - 240_000, 240_000) * 100,
    "math-036": F(math.factorial(7), math.factorial(4) * math.factorial(3)),
    "math-037": _clock_330(),
    "math-038": _cows(),
    "math-039": sum(1 for k in range(1, 1001) if k % 3 == 0 or k % 5 == 0),
    "math-040": math.isqrt(150 // 6) ** 3,
    "math-041": F("2.75") * 60,
    "math-042": 40 * F("18.50") + 6 * F("18.50") * F("1.5"),
    "math-043": F(1, 2) + F(1, 3) + F(1, 6) + F(1, 4),
    "math-044": 40 * F(5, 8),
    "math-045": F(192) / (F(120, 100) * F(80, 100)),
    "math-046": sum(int(d) for d in str(2**15)),
    "math-047": 10 * (10 - 3) // 2,
    "math-048": F(720, 45),
    "math-049": sum(15 + 5 * i for i in range(8)),
    "math-050": _crt_61(),
    "math-051": F(14 * 25_000, 100 * 1000),
    "math-052": 4 * 9 - (3 + 8 + 13),
    "math-053": F(sorted([14, 3, 9, 22, 17, 6])[2] + sorted([14, 3, 9, 22, 17, 6])[3], 2),
    "math-054": 1 / (F(1, 12) + F(1, 6)),
    "math-055": _trailing_zeros(100),
    "math-056": -8 + 3 * (-4) - (-15),
    "math-057": 12 + F("0.05") * 340,
    "math-058": F(abs(8 * 6 - 0 * 3), 2),
    "math-059": 500 * 2 ** (15 // 3),
    "math-060": _students(),
}


def test_suite_size_and_ids() -> None:
    tasks = load_word_problems()
    assert len(tasks) >= 50
    assert [t.id for t in tasks] == sorted(COMPUTED)
    assert all(t.kind == "math" for t in tasks)


@pytest.mark.parametrize("task", load_word_problems(), ids=lambda t: t.id)
def test_answer_is_recomputed(task) -> None:  # type: ignore[no-untyped-def]
    expected = to_number(task.expected)
    assert expected is not None, task.expected
    assert expected.value == F(COMPUTED[task.id]), (task.prompt, task.expected)


async def test_word_problem_evaluates_model_answers() -> None:
    task = next(t for t in load_word_problems() if t.id == "math-034")  # 5/36
    assert (await evaluate(task, "So the probability is \\boxed{\\frac{5}{36}}")).correct
    assert not (await evaluate(task, "Answer: 0.14")).correct


def test_math_suite_includes_game24_hands() -> None:
    tasks = load_suite("math")
    hands = [t for t in tasks if "game24" in t.tags]
    assert len(hands) == 10 and len(tasks) == len(load_word_problems()) + 10


# --- Game of 24 -------------------------------------------------------------------


def test_generator_is_seeded_and_only_solvable() -> None:
    a = generate_hands(25, seed=7)
    assert a == generate_hands(25, seed=7)
    assert a != generate_hands(25, seed=8)
    assert len(set(a)) == 25
    for hand in a:
        expr = solve(hand)
        assert expr is not None
        assert check_expression(expr, hand) == (True, "ok")


def test_solver_on_known_hands() -> None:
    assert solve([1, 1, 1, 1]) is None
    assert solve([3, 3, 8, 8]) is not None  # needs fractions: 8 / (3 - 8/3)
    assert check_expression(solve([3, 3, 8, 8]) or "", [3, 3, 8, 8])[0]


@pytest.mark.parametrize(
    ("expr", "numbers", "ok", "reason"),
    [
        ("8 / (3 - 8 / 3)", [3, 3, 8, 8], True, "ok"),
        ("(8 - 4) × (7 - 1)", [1, 4, 7, 8], True, "ok"),
        ("[(12 ÷ 4) + 5] * 3 = 24", [3, 4, 5, 12], True, "ok"),
        ("(2 + 2) x 6", [2, 2, 6], True, "ok"),
        ("$4 \\times (5 + 1)$", [1, 4, 5], True, "ok"),
        ("1 + 2 + 3 + 4", [1, 2, 3, 4], False, "evaluates to 10"),
        ("4 * 6", [1, 4, 6, 1], False, "exactly once"),
        ("4 * 6 * 1 * 1 * 1", [1, 4, 6, 1], False, "exactly once"),
        ("-1 + 25", [1, 25], False, "signs are not allowed"),
        ("24.0", [24], False, "whole numbers"),
        ("2 ** 3 * 3", [2, 3, 3], False, "only numbers"),
        ("__import__('os').system('true')", [1], False, "only numbers"),
        ("(1 + 2", [1, 2], False, "not an arithmetic expression"),
        ("6 / (1 - 1) + 24", [1, 1, 6, 24], False, "division by zero"),
        ("", [1], False, "empty"),
        ("(" * 150 + "1" + ")" * 150, [1], False, "longer than"),
    ],
)
def test_checker(expr: str, numbers: list[int], ok: bool, reason: str) -> None:
    got_ok, got_reason = check_expression(expr, numbers)
    assert got_ok is ok
    assert reason in got_reason


async def test_game24_evaluator_reads_the_answer_line() -> None:
    task = load_suite("game24", n=1, seed=5)[0]
    solution = task.metadata["solution"]
    good = await evaluate(task, f"Let me try.\nAnswer: {solution}")
    assert good.correct, good
    bad = await evaluate(task, "Answer: 24")
    assert not bad.correct and "exactly once" in bad.reason
    nothing = await evaluate(task, "")
    assert not nothing.correct


def test_generator_bad_range() -> None:
    with pytest.raises(ConfigError):
        generate_hands(3, low=0)
    with pytest.raises(ConfigError, match="distinct solvable"):
        generate_hands(5, low=1, high=1)
