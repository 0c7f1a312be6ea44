from __future__ import annotations

import json

import pytest

from thinktank.errors import ConfigError, UsageError
from thinktank.graphs.answers import (
    VoteResult,
    answer_kind_for,
    behaviour_keys,
    canonical_code,
    canonical_key,
    code_blocks,
    extract_code,
    judge_equivalence,
    judge_keys,
    passed_count,
    vote,
    vote_keys,
    weighted_vote,
)
from thinktank.llm.testing import FunctionModel, ScriptedModel
from thinktank.llm.types import ChatRequest

REPLY = """Here is a first try:
```python
def add(a, b):
    return a - b
```
Fixed:
```python
def add(a, b):
    # sum
    return a + b
```
Run it with:
```bash
python add.py
```
"""


def test_extract_last_python_block() -> None:
    assert extract_code(REPLY) == "def add(a, b):\n    # sum\n    return a + b\n"
    assert extract_code(REPLY, language="bash") == "python add.py\n"
    assert extract_code(REPLY, language=None) == "python add.py\n"
    assert [tag for tag, _ in code_blocks(REPLY)] == ["python", "python", "bash"]


def test_extract_code_edge_cases() -> None:
    assert extract_code("```py\nx = 1\n") == "x = 1\n"  # cut off before the closing fence
    assert extract_code("~~~\ny = 2\n~~~") == "y = 2\n"
    assert extract_code("x = 1\ny = 2\n") == "x = 1\ny = 2\n"  # bare code that parses
    assert extract_code("just prose, no code") is None
    assert extract_code("```rust\nfn main() {}\n```") == "fn main() {}\n"


def test_canonical_code_ignores_formatting_and_docstrings() -> None:
    a = 'def f(x):\n    """Doc."""\n    return x+1  # inc\n'
    b = "def f(x):\n\n    return (x + 1)\n"
    assert canonical_code(a) == canonical_code(b)
    assert canonical_code("def (") == "def ("


async def test_behaviour_keys_group_by_test_results() -> None:
    calls: list[tuple[str, str]] = []

    async def runner(program: str, test: str) -> bool:
        calls.append((program, test))
        env: dict[str, object] = {}
        try:
            exec(program + "\n" + test, env)  # test-local runner over trusted snippets
        except Exception:
            return False
        return True

    replies = [
        "```python\ndef add(a, b):\n    return a + b\n```",
        "```python\ndef add(a, b):\n    return b + a\n```",
        "```python\ndef add(a, b):\n    return a * b\n```",
        "no code",
        "```python\ndef add(a, b):\n    return a + b\n```",
    ]
    tests = ["assert add(2, 2) == 4", "assert add(2, 3) == 5"]
    keys = await behaviour_keys(replies, tests, runner)
    assert keys == ["pass:11", "pass:11", "pass:10", None, "pass:11"]
    assert len(calls) == 3 * 2  # identical programs run once
    result = vote_keys(keys, prefer=passed_count)
    assert result.winner == "pass:11" and result.counts["pass:11"] == 3
    assert passed_count("pass:101") == 2 and passed_count(None) == 0
    assert await behaviour_keys(["```python\nx=1\n```"], [], runner) == ["x = 1"]


def test_vote_majority_and_groups() -> None:
    answers = ["Answer: 42", "\\boxed{42.0}", "Answer: 41", None, "no idea at all"]
    winner, counts, groups = vote(answers, "number")
    assert winner == "42"
    assert counts == {"42": 2, "41": 1}
    assert groups == {"42": [0, 1], "41": [2]}
    result = vote(answers, "number")
    assert result.representative(answers) == "Answer: 42"
    assert result.share == pytest.approx(2 / 3) and result.margin == 1 and result.total == 3


def test_vote_tie_breaks_are_deterministic() -> None:
    answers = ["Answer: 41", "Answer: 42", "Answer: 42", "Answer: 41"]
    assert vote(answers, "number").winner == "41"  # first seen
    assert vote(list(reversed(answers)), "number").winner == "41"
    assert vote(["Answer: b", "Answer: a"], "text", tie_break="lexical").winner == "a"
    assert vote(["Answer: 9", "Answer: 10"], "number", prefer=lambda k: float(k)).winner == "10"


def test_vote_kinds() -> None:
    assert vote(["Answer: (b)", "the answer is B", "Answer: C"], "choice").winner == "B"
    assert vote(["The Eiffel Tower", "eiffel tower.", "Big Ben"], "text").winner == "eiffel tower"
    assert vote(["```python\nx=1\n```", "```\nx = 1  # same\n```"], "code").counts == {"x = 1": 2}
    assert vote([" a ", "a", "b"], "exact").winner == "a"
    assert vote(["A", "a"], lambda s: s.upper()).counts == {"A": 2}
    assert vote([], "number") == VoteResult(None, {}, {})
    assert vote([None, "nothing"], "choice").winner is None
    assert canonical_key(None, "number") is None
    with pytest.raises(ConfigError, match="valid kinds: number, choice"):
        vote(["x"], "bogus")  # type: ignore[arg-type]


def test_weighted_vote() -> None:
    winner, counts, _ = weighted_vote(
        ["Answer: 41", "Answer: 42", "Answer: 42"], [0.9, 0.3, 0.4], "number"
    )
    assert winner == "41" and counts["42"] == pytest.approx(0.7)
    with pytest.raises(UsageError, match="one weight per answer"):
        weighted_vote(["1"], [1.0, 2.0], "number")
    with pytest.raises(UsageError, match="non-negative"):
        weighted_vote(["1"], [-1.0], "number")


def test_answer_kind_for_task_kinds() -> None:
    assert answer_kind_for("math") == "number"
    assert answer_kind_for("web") == "text"
    with pytest.raises(ConfigError, match="valid kinds"):
        answer_kind_for("poetry")


async def test_judge_equivalence_with_model() -> None:
    model = ScriptedModel([json.dumps({"equivalent": True, "reason": "same shore"})])
    verdict = await judge_equivalence(
        model, "north shore of Lake Orva", "Lake Orva's northern shore"
    )
    assert verdict.equivalent and verdict.reason == "same shore"
    prompt = model.requests[0].messages[-1]["content"]
    assert "Answer 1: north shore of Lake Orva" in prompt


async def test_judge_skips_call_when_normalised_equal_and_uses_reference_framing() -> None:
    model = ScriptedModel([json.dumps({"equivalent": False, "reason": "different town"})])
    same = await judge_equivalence(model, "The Harbour", "harbour")
    assert same.equivalent and model.consumed == 0
    verdict = await judge_equivalence(model, "Tessaly", "Varn", question="Where?", reference=True)
    assert not verdict.equivalent
    assert "Reference answer: Tessaly" in model.requests[0].messages[-1]["content"]


async def test_judge_keys_merge_equivalent_groups() -> None:
    def decide(request: ChatRequest) -> str:
        text = request.messages[-1]["content"]
        same = (
            "Orva" in text.split("Answer 1:")[1].split("Answer 2:")[0]
            and "Orva" in text.split("Answer 2:")[1]
        )
        return json.dumps({"equivalent": same, "reason": ""})

    model = FunctionModel(decide)
    replies = [
        "Answer: north shore of Lake Orva",
        "Answer: Velmora",
        "Answer: Lake Orva's northern shore",
        "Answer: north shore of lake Orva.",
        None,
    ]
    keys = await judge_keys(model, replies, question="Where is the mill?")
    assert keys[0] == keys[2] == keys[3] == "north shore of lake orva"
    assert keys[1] == "velmora" and keys[4] is None
    assert len(model.requests) == 2  # velmora vs orva, orva-paraphrase vs orva
    assert vote_keys(keys).winner == "north shore of lake orva"
