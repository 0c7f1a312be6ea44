from __future__ import annotations

import pytest

from thinktank.graphs.answers import (
    canonical_text,
    extract_choice,
    extract_text,
    format_options,
    normalize_text,
    text_equal,
    token_f1,
)

OPTIONS = {"A": "London", "B": "Paris", "C": "Rome", "D": "Oslo"}


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("Answer: (C)", "C"),
        ("Answer: C", "C"),
        ("reasoning...\nthe answer is c", "C"),
        ("**Answer:** c)", "C"),
        ("\\boxed{C}", "C"),
        ("\\boxed{\\text{(B)}}", "B"),
        ("The correct option is (B).", "B"),
        ("I pick option D.", "D"),
        ("Answer: A. London", "A"),
        ("Answer: C because Rome is the capital", "C"),
        ("Answer: (B) since it fits", "B"),
        ("(d)", "D"),
        ("B", "B"),
        ("the answer is a.", "A"),
        ("The answer is a tricky one", None),
        ("Answer: I think B", None),
        ("no choice made", None),
    ],
)
def test_extract_choice(reply: str, letter: str | None) -> None:
    assert extract_choice(reply, letters="ABCD") == letter


def test_choice_by_option_text_and_letter_limits() -> None:
    assert extract_choice("Answer: Paris", options=OPTIONS) == "B"
    assert extract_choice("Answer: paris.", options=OPTIONS) == "B"
    assert extract_choice("Answer: E", options=OPTIONS) is None
    assert extract_choice("Answer: E") == "E"
    assert extract_choice("Answer: Madrid", options=OPTIONS) is None
    assert format_options(["x", "y"]) == "(A) x\n(B) y"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Eiffel Tower.", "eiffel   TOWER"),
        ("Zürich", "zurich"),
        ("“New York City”", "new york city"),
        ("ＡＢＣ", "abc"),
        ("an apple", "Apple!"),
        ("1,000", "1000"),
        ("Crème brûlée", "creme brulee"),
    ],
)
def test_normalize_text_equivalences(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)
    assert text_equal(a, b)


def test_normalize_keeps_meaningful_differences() -> None:
    assert normalize_text("3.5") != normalize_text("35")
    assert normalize_text("Lake Orva") != normalize_text("Lake Orvan")
    assert not text_equal("", "")
    assert text_equal("Halvard Brenneke", "H. Brenneke", aliases=["Halvard Brenneke"])


def test_extract_text() -> None:
    assert extract_text("thinking...\nAnswer: **Velmora Bay**.") == "Velmora Bay"
    assert extract_text('Answer: "Tessaly"') == "Tessaly"
    assert extract_text("first line\n\nlast line\n") == "last line"
    assert extract_text("first line\nlast line", fallback_last_line=False) is None
    assert extract_text("   ") is None
    long_line = (
        "First, restate the question. Work through it. I could not settle on a final result."
    )
    assert extract_text(long_line) is None
    assert canonical_text("Answer: The Northern Line") == "northern line"


def test_token_f1() -> None:
    assert token_f1("the red house", "red house") == 1.0
    assert token_f1("red barn", "red house") == 0.5
    assert token_f1("", "x") == 0.0
    assert token_f1("", "") == 1.0
