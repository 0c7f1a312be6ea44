from __future__ import annotations

from fractions import Fraction

import pytest

from thinktank.graphs.answers import (
    canonical_number,
    extract_number,
    final_segment,
    format_fraction,
    numbers_equal,
    parse_number,
)


@pytest.mark.parametrize(
    ("reply", "key"),
    [
        ("Answer: 42", "42"),
        ("Some reasoning.\n\\boxed{42}", "42"),
        ("so x = 3.\nAnswer: 42", "42"),
        ("Answer: -17", "-17"),
        ("Answer: −17", "-17"),
        ("Answer: 1,234,567", "1234567"),
        ("Answer: $1,234.50", "1234.5"),
        ("Answer: \\$12{,}345", "12345"),
        ("Answer: 3.50 dollars", "3.5"),
        ("Answer: 3/4", "0.75"),
        ("\\boxed{\\frac{3}{4}}", "0.75"),
        ("\\boxed{\\dfrac{1}{3}}", "1/3"),
        ("\\boxed{\\frac12}", "0.5"),
        ("\\boxed{-\\frac{2}{3}}", "-2/3"),
        ("\\boxed{2\\frac{1}{2}}", "2.5"),
        ("Answer: 2 1/2 cups", "2.5"),
        ("\\boxed{\\text{12 cm}}", "12"),
        ("Answer: 5\\text{ km}", "5"),
        ("Answer: 12 cm", "12"),
        ("Answer: 10 m^2", "10"),
        ("Answer: 60 km/h", "60"),
        ("Answer: 25%", "25"),
        ("Answer: 25\\%", "25"),
        ("Answer: 1.5 \\times 10^{3}", "1500"),
        ("Answer: 2.5e-3", "0.0025"),
        ("Answer: x = 5", "5"),
        ("Answer: approximately 3.14", "3.14"),
        ("Answer: **42**", "42"),
        ("Answer: seven", "7"),
        ("The answer is 4, since 2+2=4.", "4"),
        ("Final Answer: The final answer is $\\boxed{12}$. I hope it is correct.", "12"),
        ("\\boxed{\\boxed{8}}", "8"),
        (
            "Answer: \\boxed{\\frac{\\frac{1}{2}}{2}}",
            None,
        ),  # nested fraction: not flat rational text
        ("Answer: 0.5\n\\boxed{7}", "7"),  # the later marker wins
        ("\\boxed{7}\nAnswer: 9", "9"),
        ("She buys 3 packs of 6 eggs, so she has 18 eggs.", "18"),
        ("I wonder what the answer is. She has 18 eggs.", "18"),
        ("Answer: 12 cm by 3 cm", None),
        ("\\boxed{\\sqrt{2}/2}", None),
        ("no numbers here", None),
    ],
)
def test_canonical_number(reply: str, key: str | None) -> None:
    assert canonical_number(reply) == key


def test_simulator_conventions_both_parse() -> None:
    assert canonical_number("Let me think step by step.\nAnswer: 42") == "42"
    assert canonical_number("Let me think step by step.\n\\boxed{42}") == "42"
    assert canonical_number("Answer: \\boxed{42}") == "42"
    # The simulator's "both" format: a boxed sentence, then an answer line.
    both = "Check each step.\nTherefore the answer is \\boxed{1,000}.\nAnswer: 1,000"
    assert canonical_number(both) == "1000"
    assert (
        final_segment("Work it out.\nTherefore the answer is \\boxed{Velmora Bay}.")
        == "Velmora Bay"
    )
    no_answer = "Combine the partial results carefully. I could not settle on a final result."
    assert canonical_number(no_answer) is None


def test_equivalent_spellings_share_a_key() -> None:
    spellings = [
        "Answer: 0.75",
        "\\boxed{\\frac{3}{4}}",
        "Answer: 3/4",
        "Answer: .750",
        "\\boxed{\\dfrac34}",
    ]
    assert {canonical_number(s) for s in spellings} == {"0.75"}


def test_format_fraction_is_exact_and_unique() -> None:
    assert format_fraction(Fraction(1, 3)) == "1/3"
    assert format_fraction(Fraction(-1, 8)) == "-0.125"
    assert format_fraction(Fraction(1, 10**20)) == "0." + "0" * 19 + "1"
    assert format_fraction(Fraction(123456789, 1000)) == "123456.789"
    assert format_fraction(Fraction(-6, 3)) == "-2"


def test_no_fallback_without_marker() -> None:
    assert extract_number("there are 3 cats", fallback_last=False) is None
    assert extract_number("Answer: 3", fallback_last=False) is not None


def test_percent_and_tolerance() -> None:
    n = parse_number("25%")
    assert n is not None and n.percent and n.share == Fraction(1, 4)
    assert numbers_equal("25%", "0.25")
    assert numbers_equal("25%", 25)
    assert not numbers_equal("25%", "0.25", percent_as_share=False)
    assert numbers_equal(0.1, "1/10")
    assert not numbers_equal("3.14", "3.14159")
    assert numbers_equal("3.14", "3.14159", abs_tol=0.01)
    assert numbers_equal(1000, "1001", rel_tol=0.002)
    assert not numbers_equal("abc", 1)
    assert not numbers_equal(True, 1)


def test_final_segment_markers() -> None:
    assert final_segment("blah\nFinal answer: Paris") == "Paris"
    assert final_segment("**Answer:** (B)") == "(B)"
    assert final_segment("I conclude the answer is Oslo.") == "Oslo"
    assert final_segment("no marker at all") is None
    assert final_segment("unbalanced \\boxed{12") is None
