"""Game of 24: a seeded generator of solvable hands, a solver and a safe checker.

A hand is four numbers from 1 to 13; the player combines all four with ``+ - * /``
and parentheses to reach 24. :func:`check_expression` validates an answer
without evaluating arbitrary code: the text is parsed with :mod:`ast` and only
integer literals and the four binary operators are accepted, then evaluated
exactly with :class:`~fractions.Fraction` (so ``8 / (3 - 8 / 3)`` is exactly 24).
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from thinktank.errors import ConfigError

TARGET = 24
_OPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_MAX_CHARS = 200
_SYMBOLS = str.maketrans("×∗·÷−–[]{}", "***/--()()")


def normalize_expression(text: str) -> str:
    """Map common spellings to Python syntax: ``×``/``x``/``\\times`` → ``*``, ``÷`` → ``/``,
    ``[`` ``]`` → parentheses; drop a trailing ``= 24`` and LaTeX/Markdown wrappers."""
    s = text.strip().strip("`$*").strip()
    for a, b in (
        ("\\times", "*"),
        ("\\cdot", "*"),
        ("\\div", "/"),
        ("\\left", ""),
        ("\\right", ""),
    ):
        s = s.replace(a, b)
    s = s.translate(_SYMBOLS)
    s = re.sub(r"(?<=[\d)\s])[xX](?=[\s\d(])", "*", s)
    s = re.sub(r"=\s*24\s*\.?$", "", s).strip()
    s = re.sub(r"^24\s*=", "", s).strip()
    return s.rstrip(".").strip()


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, used)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _evaluate(node.left, used), _evaluate(node.right, used)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise ZeroDivisionError
        return left / right
    if isinstance(node, ast.UnaryOp):
        raise ValueError("signs are not allowed; use only + - * / between the numbers")
    if isinstance(node, ast.Constant):
        raise ValueError(f"only whole numbers are allowed, not {node.value!r}")
    raise ValueError(
        f"only numbers, + - * / and parentheses are allowed (found {type(node).__name__})"
    )


def check_expression(
    expression: str, numbers: Sequence[int], target: int = TARGET
) -> tuple[bool, str]:
    """Whether ``expression`` uses exactly ``numbers`` (each once) and equals ``target``.

    Returns ``(ok, reason)``; the reason says what is wrong for a failing answer.
    """
    s = normalize_expression(expression)
    if not s:
        return False, "empty expression"
    if len(s) > _MAX_CHARS:
        return False, f"expression longer than {_MAX_CHARS} characters"
    try:
        tree = ast.parse(s, mode="eval")
    except SyntaxError:
        return False, f"not an arithmetic expression: {s!r}"
    used: list[int] = []
    try:
        value = _evaluate(tree, used)
    except ZeroDivisionError:
        return False, "division by zero"
    except ValueError as exc:
        return False, str(exc)
    if Counter(used) != Counter(int(n) for n in numbers):
        want = " ".join(str(n) for n in sorted(numbers))
        got = " ".join(str(n) for n in sorted(used))
        return False, f"must use each of {want} exactly once (used {got or 'none'})"
    if value != target:
        return False, f"evaluates to {value}, not {target}"
    return True, "ok"


@lru_cache(maxsize=4096)
def _solve(items: tuple[tuple[Fraction, str], ...], target: Fraction) -> str | None:
    if len(items) == 1:
        return items[0][1] if items[0][0] == target else None
    n = len(items)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            (a, ea), (b, eb) = items[i], items[j]
            rest = tuple(items[k] for k in range(n) if k not in (i, j))
            options = [(a + b, f"({ea} + {eb})")] if i < j else []
            options += [(a - b, f"({ea} - {eb})")]
            options += [(a * b, f"({ea} * {eb})")] if i < j else []
            options += [(a / b, f"({ea} / {eb})")] if b != 0 else []
            for value, expr in options:
                found = _solve(tuple(sorted((*rest, (value, expr)))), target)
                if found is not None:
                    return found
    return None


def solve(numbers: Sequence[int], target: int = TARGET) -> str | None:
    """One expression reaching ``target`` with ``numbers`` (each once), or ``None``."""
    items = tuple(sorted((Fraction(n), str(n)) for n in numbers))
    found = _solve(items, Fraction(target))
    if found is not None and found.startswith("(") and found.endswith(")"):
        inner = found[1:-1]
        if check_expression(inner, numbers, target)[0]:
            return inner
    return found


def generate_hands(
    count: int, *, seed: int = 0, low: int = 1, high: int = 13, target: int = TARGET
) -> list[tuple[int, int, int, int]]:
    """``count`` distinct solvable hands (sorted tuples), reproducible from ``seed``."""
    if count < 0 or low < 1 or high < low:
        raise ConfigError("game24 needs count >= 0 and 1 <= low <= high")
    rng = random.Random(seed)
    seen: set[tuple[int, int, int, int]] = set()
    hands: list[tuple[int, int, int, int]] = []
    attempts = 0
    while len(hands) < count:
        attempts += 1
        if attempts > 200 * max(count, 1) + 10_000:
            raise ConfigError(
                f"could not find {count} distinct solvable hands in {low}..{high}; "
                "ask for fewer or widen the range"
            )
        a, b, c, d = sorted(rng.randint(low, high) for _ in range(4))
        hand = (a, b, c, d)
        if hand in seen:
            continue
        seen.add(hand)
        if solve(hand, target) is not None:
            hands.append(hand)
    return hands


def prompt_for(hand: Sequence[int], target: int = TARGET) -> str:
    """The task text shown to the model for one hand."""
    nums = " ".join(str(n) for n in hand)
    return (
        f"Game of {target}: combine the numbers {nums} with +, -, *, / and parentheses so "
        f"that the result is {target}. Use every number exactly once and no other numbers. "
        f"End your reply with one line of the form 'Answer: <expression>', for example "
        f"'Answer: (1 + 2 + 3) * 4' for the numbers 1 2 3 4."
    )
