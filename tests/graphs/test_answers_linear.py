"""Reading answers out of replies takes time linear in the reply, whatever the model
wrote. Small models loop (a long word, blank lines after "Answer", "\\boxed{" again and
again); each case here made a pattern backtrack exponentially, cubically or
quadratically, so one candidate held a run's event loop for minutes or years. The
timeout is a guard against a hang, not a race: the inputs take milliseconds now."""

from __future__ import annotations

import pytest

from thinktank.graphs.answers.choice import extract_choice
from thinktank.graphs.answers.latex import final_segment, last_boxed
from thinktank.graphs.answers.numbers import extract_number, find_numbers, parse_number
from thinktank.graphs.answers.vote import canonical_key

pytestmark = pytest.mark.timeout(120)

# each was exponential (a 22-letter word: 23 s; this one: ages), cubic (2,000 blanks: a
# minute; these: hours) or quadratic in the count of unclosed boxes
REPLIES = {  # reply, the number read from it (no marker: its last number)
    "long word after a number": ("She has 3 eggs " + "x" * 60 + " (", 3),
    "blanks and tabs": ("She has 3 eggs " + "\t " * 20_000 + "#", 3),
    "blank lines after Answer": ("Answer" + "\n" * 40_000 + "?", None),
    "spaces after Answer": ("Final answer" + " " * 40_000 + "?", None),
    "answer is and spaces": ("the answer is" + " " * 40_000 + "\n", None),
    "unclosed boxes": ("So " + "\\boxed{" * 10_000 + "7", 7),
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_pathological_replies_are_read_in_linear_time(name: str) -> None:
    text, number = REPLIES[name]
    found = extract_number(text)
    assert (found and found.value) == number
    assert [n.value for n in find_numbers(text)] == ([] if number is None else [number])
    assert parse_number(text) is None  # not one number with a few words around it
    assert extract_choice(text) is None
    assert final_segment(text) is None
    assert canonical_key(text) != ""


def test_the_answers_read_stay_the_same() -> None:
    assert parse_number("approximately 3.5 hours.") is not None
    assert parse_number("25 km/h") is not None and parse_number("7 cm².") is not None
    assert parse_number("12 cm by 3 cm") is None and parse_number("3 and 4") is None
    assert extract_number("She has 3 eggs " + "x" * 60 + " (") == find_numbers("3")[0]
    assert final_segment("**Final Answer:** 42") == "42"
    assert final_segment("Answer is: 7") == "7"
    assert final_segment("The answer is 12, since 3 * 4 = 12.") == "12"
    assert final_segment("Answer:\n  ** 5") == "5"
    assert extract_choice("I think the answer is   (B).") == "B"
    # a box after unclosed ones is found; an unclosed box hides no earlier closed one
    assert last_boxed("\\boxed{1} and \\boxed{2 \\boxed{3}") == ("3", 23)
    assert last_boxed("\\boxed{a{b}c} then \\boxed{") == ("a{b}c", 0)
    assert last_boxed("\\boxed{" * 500 + "\\boxed{9}") == ("9", 3500)


def test_answer_lines_of_role_outputs_and_the_simulator_are_linear() -> None:
    from thinktank.agents.outputs import final_answer
    from thinktank.llm.simulator.answers import extract_answer, extract_candidate

    starry = "Answer: " + " *" * 40_000 + " x"  # a lazy value before blanks and stars
    assert final_answer(starry) == (" *" * 40_000).strip() + " x"
    assert extract_answer("Answer: 7" + " " * 40_000 + "\nmore") == "7"
    assert extract_candidate("Candidate answer:" + " a" * 40_000 + " ") == "a" + " a" * 39_999
    assert final_answer("Answer: **5**  ") == "**5"
