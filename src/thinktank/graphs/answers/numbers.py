"""Numeric answers: find the final number in a reply and give it one canonical form.

Values are exact :class:`~fractions.Fraction` objects, so ``0.75``, ``3/4``,
``\\frac{3}{4}`` and ``75%`` (as a share, see :func:`numbers_equal`) compare
without rounding noise. Accepted spellings: integers and decimals with a sign
(ASCII or Unicode minus), thousands separators (``1,234,567`` and LaTeX
``1{,}234``), fractions ``3/4`` / ``\\frac{3}{4}`` / ``\\dfrac34``, mixed numbers
``2 1/2`` / ``2\\frac{1}{2}``, scientific notation ``1.5e3`` / ``1.5 \\times
10^{3}``, currency signs, percentages, a trailing unit (``12 cm``, ``42 apples``,
``5\\text{ km}``) and small number words (``seven``).

The canonical form (:attr:`NumberAnswer.canonical`) is a function of the value
only: integers print as ``42``, terminating decimals as ``3.5``, other rationals as
``1/3``. A percent sign is *not* part of the key (``25%`` and ``25`` vote together);
:func:`numbers_equal` additionally accepts ``25%`` against ``0.25``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from thinktank.graphs.answers.latex import clean_latex, final_segment

_THOUSANDS = r"\d{1,3}(?:,\d{3})+(?!\d)"
# Every [ \t]* follows a character it belongs to: a run of blanks can be read one way
# only (three optional prefixes each taking any blanks made it cubic in the run's length).
_NUM = re.compile(
    r"""
    (?<![\w.])
    (?:(?P<sign>[-+])[ \t]*)?(?:(?P<cur>[$€£¥])[ \t]*)?(?:(?P<sign2>[-+])[ \t]*)?
    (?:
        (?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)(?![\d.])
      |
        (?P<num>(?:THOUSANDS|\d+)(?:\.\d+)?|\.\d+)
        (?:[ \t]*[eE](?P<exp>[-+]?\d+)(?![\w.])
          |[ \t]*\*[ \t]*10[ \t]*\^[ \t]*\{?(?P<exp2>[-+]?\d+)\}?)?
        (?:[ \t]*/[ \t]*(?P<den>(?:THOUSANDS|\d+)(?:\.\d+)?)(?![\d.]))?
    )
    (?P<pct>[ \t]*(?:%|percent\b|per\ cent\b))?
    """.replace("THOUSANDS", _THOUSANDS),
    re.VERBOSE | re.IGNORECASE,
)
# What may follow a number and still count as "just a unit": words, degree and
# micro signs, powers like ^2 or ², slashes (km/h) — no digits or operators.
_UNIT = r"[A-Za-zµ°Ω²³']+(?:\^\{?\d\}?)?(?:/[A-Za-z]+)?"
# Units after the number ("12 cm", "3.5 hours."): one way only to split the words into
# units (a separator between two), so a tail that does not match fails in linear time;
# "(?:[\s.]*UNIT)*" could split a long word letter by letter and took exponential time.
_UNIT_TAIL = re.compile(rf"[\s.]*(?:{_UNIT}(?:[\s.]+{_UNIT})*)?[\s.!,;]*")
# Words that may precede the number in a one-line answer ("approximately 3.5").
_WORD_HEAD = re.compile(r"[A-Za-z ,:'’\"~≈-]*")

_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000,
}  # fmt: skip


@dataclass(frozen=True)
class NumberAnswer:
    """An exact numeric answer as written (``percent`` records a ``%`` sign)."""

    value: Fraction
    """The number; for ``25%`` this is 25."""
    percent: bool = False
    """True when the answer carried a percent sign or the word "percent"."""

    @property
    def canonical(self) -> str:
        """The voting key: :func:`format_fraction` of :attr:`value`."""
        return format_fraction(self.value)

    @property
    def share(self) -> Fraction:
        """The value as a plain number (``25%`` → 0.25)."""
        return self.value / 100 if self.percent else self.value


def format_fraction(value: Fraction) -> str:
    """``42``, ``3.5``, ``-0.125`` or ``1/3``: exact, and one spelling per value."""
    if value.denominator == 1:
        return str(value.numerator)
    d, twos, fives = value.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    text = f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")
    return f"-{text}" if value < 0 else text


def _to_fraction(text: str) -> Fraction:
    return Fraction(Decimal(text.replace(",", "")))


def _from_match(m: re.Match[str]) -> NumberAnswer | None:
    try:
        if m.group("whole") is not None:
            num, den = int(m.group("mnum")), int(m.group("mden"))
            if den == 0 or num >= den:
                return None
            value = int(m.group("whole")) + Fraction(num, den)
        else:
            value = _to_fraction(m.group("num"))
            exp = m.group("exp") or m.group("exp2")
            if exp is not None:
                if abs(int(exp)) > 400:
                    return None
                value *= Fraction(10) ** int(exp)
            if m.group("den") is not None:
                den_value = _to_fraction(m.group("den"))
                if den_value == 0:
                    return None
                value /= den_value
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None
    negative = (m.group("sign") == "-") != (m.group("sign2") == "-")
    return NumberAnswer(-value if negative else value, percent=bool(m.group("pct")))


def _prepare(text: str) -> str:
    out = clean_latex(text)
    out = out.replace("−", "-").replace("﹣", "-").replace("－", "-").replace("\u2009", " ")
    out = re.sub(r"(?<=\d)[\u00a0\u202f](?=\d{3}\b)", ",", out)  # 1 234 written with thin spaces
    return out.replace("\u00a0", " ")


def find_numbers(text: str) -> list[NumberAnswer]:
    """Every number in ``text``, in order of appearance."""
    out: list[NumberAnswer] = []
    for m in _NUM.finditer(_prepare(text)):
        n = _from_match(m)
        if n is not None:
            out.append(n)
    return out


def parse_number(text: str) -> NumberAnswer | None:
    """Read ``text`` as one number, allowing a unit or a few words around it.

    ``"42"``, ``"$1,234.50"``, ``"-3/4"``, ``"\\frac{3}{4}"``, ``"25%"``,
    ``"12 cm"``, ``"x = 5"``, ``"approximately 3.5 hours."``, ``"seven"`` parse;
    ``"\\sqrt{2}/2"``, ``"3 and 4"``, ``"12 cm by 3 cm"`` do not (ambiguous or not
    rational), which keeps a vote from merging different answers.
    """
    s = _prepare(text).strip()
    if "=" in s:
        s = s.rsplit("=", 1)[1]
    s = s.strip().strip("*_`'\"“”").strip()
    s = re.sub(r"^\((.*)\)$", r"\1", s).strip()
    s = s.rstrip(".!;,").strip()
    word = s.lower().rstrip(".")
    if word in _WORDS:
        return NumberAnswer(Fraction(_WORDS[word]))
    for m in _NUM.finditer(s):
        head, tail = s[: m.start()], s[m.end() :]
        if not _WORD_HEAD.fullmatch(head):
            continue
        if _UNIT_TAIL.fullmatch(tail):
            return _from_match(m)
    return None


def extract_number(text: str, *, fallback_last: bool = True) -> NumberAnswer | None:
    """The final numeric answer of a model reply.

    The final-answer marker (``\\boxed{}``, ``Answer: ...``, ``the answer is ...``;
    the last one wins) is read with :func:`parse_number`. With no marker and
    ``fallback_last``, the last number in the reply is used (the habit of
    "... so she has 18 eggs."). A marker whose content is not one number gives
    ``None`` rather than a guess.
    """
    segment = final_segment(text)
    if segment is not None:
        return parse_number(segment)
    if not fallback_last:
        return None
    whole = parse_number(text)
    if whole is not None:
        return whole
    found = find_numbers(text)
    return found[-1] if found else None


def canonical_number(text: str, *, fallback_last: bool = True) -> str | None:
    """The voting key of a reply's final number, or ``None``."""
    n = extract_number(text, fallback_last=fallback_last)
    return n.canonical if n is not None else None


def to_number(value: object) -> NumberAnswer | None:
    """Coerce an expected value (int, float, Fraction, Decimal or text) to a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Fraction):
        return NumberAnswer(Fraction(value))
    if isinstance(value, float):
        return NumberAnswer(Fraction(repr(value))) if value == value else None
    if isinstance(value, Decimal):
        return NumberAnswer(Fraction(value))
    if isinstance(value, NumberAnswer):
        return value
    if isinstance(value, str):
        return parse_number(value)
    return None


def numbers_equal(
    a: object,
    b: object,
    *,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
    percent_as_share: bool = True,
) -> bool:
    """Whether two numbers (or texts of numbers) are equal.

    Exact by default; ``rel_tol``/``abs_tol`` allow rounded answers. With
    ``percent_as_share``, ``25%`` also equals ``0.25`` (and always equals ``25``).
    """
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return False
    pairs = [(x.value, y.value)]
    if percent_as_share and x.percent != y.percent:
        pairs.append((x.share, y.share))
    for u, v in pairs:
        if u == v:
            return True
        diff = abs(float(u - v))
        if diff <= abs_tol or diff <= rel_tol * max(abs(float(u)), abs(float(v))):
            return True
    return False
