from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from thinktank.errors import ConfigError, UsageError
from thinktank.evals import EvalContext, Task, evaluate, mean_pass_at_k, pass_at_k
from thinktank.evals.tasks.evaluators import (
    ChoiceConfig,
    CodeTestsConfig,
    LLMMatchConfig,
    NumericConfig,
    StringConfig,
    build_program,
    default_evaluator_config,
    evaluator_for,
    sandbox_runner,
)
from thinktank.evals.tasks.passk import pass_at_k_from_outcomes
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import dump_tasks
from thinktank.graphs.answers import behaviour_keys, vote_keys
from thinktank.llm.testing import ScriptedModel
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.config import LocalSandboxConfig


def task(kind: str, expected: object, **kw: object) -> Task:
    return Task(id="t1", kind=kind, prompt="question?", expected=expected, **kw)  # type: ignore[arg-type]


# --- numeric ----------------------------------------------------------------------


async def test_numeric() -> None:
    t = task("math", "3/4")
    assert (await evaluate(t, "so \\boxed{0.75}")).correct
    v = await evaluate(t, "Answer: 0.7")
    assert not v.correct and v.answer == "0.7" and v.expected == "0.75"
    assert (await evaluate(t, "no number")).reason == "no number found in the answer"
    assert not (await evaluate(t, None)).correct
    assert (await evaluate(task("math", 25), "Answer: 25%")).correct
    tol = task("math", 3.14159, evaluator=NumericConfig(abs_tol=0.01))
    assert (await evaluate(tol, "Answer: 3.14")).correct
    with pytest.raises(ConfigError, match="not a number"):
        await evaluate(task("math", "many"), "Answer: 3")


# --- string -------------------------------------------------------------------------


async def test_string_with_aliases_contains_and_f1() -> None:
    t = task("web", "Rosalind Teague", metadata={"aliases": ["R. Teague"]})
    assert (await evaluate(t, "Answer: rosalind teague.")).correct
    assert (await evaluate(t, "Answer: R Teague")).correct
    assert not (await evaluate(t, "Answer: The architect was Rosalind Teague")).correct
    lenient = task("web", "Rosalind Teague", evaluator=StringConfig(match="contains"))
    assert (await evaluate(lenient, "Answer: The architect was Rosalind Teague")).correct
    assert not (await evaluate(lenient, "Answer: Rosalind Teagueson")).correct
    f1 = task("text", "red brick house", evaluator=StringConfig(min_f1=0.6))
    v = await evaluate(f1, "Answer: red house")
    assert v.correct and 0.6 <= v.score < 1
    many = task("text", ["Oslo", "Christiania"])
    assert (await evaluate(many, "Answer: Christiania")).correct
    with pytest.raises(ConfigError, match="string or a list of strings"):
        await evaluate(task("text", {"a": 1}), "x")


# --- choice -------------------------------------------------------------------------


async def test_choice() -> None:
    t = task("choice", "C", metadata={"choices": ["London", "Paris", "Rome", "Oslo"]})
    assert (await evaluate(t, "Answer: (C)")).correct
    assert (await evaluate(t, "Answer: Rome")).correct
    v = await evaluate(t, "Answer: B")
    assert not v.correct and v.answer == "B" and v.expected == "C"
    assert not (await evaluate(t, "Answer: E")).correct
    by_text = task("choice", "Oslo", metadata={"choices": {"A": "Oslo", "B": "Bergen"}})
    assert (await evaluate(by_text, "the answer is a")).correct
    limited = task("choice", "A", evaluator=ChoiceConfig(letters="AB"))
    assert (await evaluate(limited, "Answer: a")).correct
    with pytest.raises(ConfigError, match="not an option letter"):
        await evaluate(task("choice", "Madrid", metadata={"choices": ["x", "y"]}), "A")


# --- llm_match ----------------------------------------------------------------------


async def test_llm_match_uses_judge_only_when_needed() -> None:
    t = task("text", "the north shore of Lake Orva", evaluator=LLMMatchConfig())
    judge = ScriptedModel([json.dumps({"equivalent": True, "reason": "same place"})])
    ctx = EvalContext(judge=judge)
    same = await evaluate(t, "Answer: North shore of Lake Orva", ctx)
    assert same.correct and judge.consumed == 0
    para = await evaluate(t, "Answer: Lake Orva's northern shore", ctx)
    assert para.correct and para.details["judge_reason"] == "same place"
    prompt = judge.requests[0].messages[-1]["content"]
    assert "Reference answer: the north shore of Lake Orva" in prompt and "question?" in prompt


async def test_llm_match_needs_a_judge_and_survives_garbage() -> None:
    t = task("text", "Tessaly", evaluator=LLMMatchConfig())
    with pytest.raises(UsageError, match="EvalContext\\(judge="):
        await evaluate(t, "Answer: Varn")
    judge = ScriptedModel(["not json", "still not json"])
    v = await evaluate(t, "Answer: Varn", EvalContext(judge=judge))
    assert not v.correct and v.reason == "judge reply unparseable"


# --- code tests in a sandbox --------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = await LocalSandboxConfig().build().create()
    async with sb:
        yield sb


GOOD = """Here you go:
```python
def run_length_encode(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(f"{s[i]}{j - i}")
        i = j
    return "".join(out)
```"""
BAD = "```python\ndef run_length_encode(s):\n    return s\n```"
BODY_ONLY = '```python\n    return "".join(f"{c}1" for c in s)\n```'
SLOW = "```python\ndef run_length_encode(s):\n    while True:\n        pass\n```"


async def test_code_tests_in_local_sandbox(sandbox: Sandbox) -> None:
    t = load_suite("code")[0]
    assert t.metadata["entry_point"] == "run_length_encode"
    ctx = EvalContext(sandbox=sandbox)
    good = await evaluate(t, GOOD, ctx)
    assert good.correct, good.details
    bad = await evaluate(t, BAD, ctx)
    assert not bad.correct and "AssertionError" in bad.details["stderr"]
    body = await evaluate(t, BODY_ONLY, ctx)  # appended to the prompt; wrong for runs
    assert not body.correct and body.details["exit_code"] != 0
    assert not (await evaluate(t, "no code here", ctx)).correct
    slow_task = t.model_copy(update={"evaluator": CodeTestsConfig(timeout_s=2)})
    slow = await evaluate(slow_task, SLOW, ctx)
    assert not slow.correct and slow.details["timed_out"] and slow.reason == "timed out"


async def test_code_tests_need_a_sandbox() -> None:
    t = load_suite("code")[0]
    with pytest.raises(UsageError, match="sandbox"):
        await evaluate(t, GOOD)


async def test_sandbox_runner_drives_behaviour_voting(sandbox: Sandbox) -> None:
    runner = sandbox_runner(sandbox, timeout_s=20)
    tests = ["assert f(2) == 4", "assert f(3) == 9"]
    replies = [
        "```python\ndef f(x):\n    return x * x\n```",
        "```python\ndef f(x):\n    return x ** 2\n```",
        "```python\ndef f(x):\n    return x + 2\n```",
    ]
    keys = await behaviour_keys(replies, tests, runner)
    assert keys == ["pass:11", "pass:11", "pass:10"]
    assert vote_keys(keys).winner == "pass:11"


def test_build_program_variants() -> None:
    t = load_suite("code")[0]
    whole = build_program(t, "def run_length_encode(s):\n    return s\n")
    assert whole.rstrip().endswith("check(run_length_encode)")
    assert "def check(candidate)" in whole and whole.count("def run_length_encode") == 1
    body = build_program(t, "    return s\n")
    assert body.startswith(t.metadata["code_prompt"].split("\n")[0])
    mbpp = Task(
        id="m",
        kind="code",
        prompt="p",
        metadata={"test": "assert f(1) == 2", "test_setup": "import math"},
    )
    assert build_program(mbpp, "def f(x):\n    return x + 1\n").startswith("import math")
    with pytest.raises(ConfigError, match="metadata\\['test'\\]"):
        build_program(Task(id="x", kind="code", prompt="p"), "x = 1")


# --- task, defaults, pass@k -------------------------------------------------------


def test_task_validation_and_defaults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = Task.model_validate(
        {"id": "a", "kind": "math", "prompt": "p", "evaluator": {"type": "numeric", "rel_tol": 0.1}}
    )
    assert isinstance(t.evaluator, NumericConfig)
    assert isinstance(evaluator_for(task("web", "x")).config, StringConfig)  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Task.model_validate(
            {"id": "a", "kind": "math", "prompt": "p", "evaluator": {"type": "bogus"}}
        )
    with pytest.raises(ValidationError):
        Task.model_validate({"id": "a", "kind": "poem", "prompt": "p"})
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        Task(id="a", kind="math", prompt="p", metadata={"x": object()})
    with pytest.raises(ConfigError, match="SWE harness"):
        default_evaluator_config("swe")
    path = dump_tasks([t, task("text", ["a", "b"])], tmp_path / "tasks.jsonl")
    assert load_suite(str(path))[0] == t


def test_pass_at_k() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 4) == 1.0  # n - c < k
    for n, c, k in [(10, 3, 2), (20, 5, 10), (7, 1, 3)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)
    big = pass_at_k(2000, 3, 100)  # binomials with ~200 digits: still stable
    assert big == pytest.approx(1 - math.comb(1997, 100) / math.comb(2000, 100), rel=1e-9)
    assert 0 < pass_at_k(10**6, 1, 1) < 1e-5
    assert mean_pass_at_k([(10, 3), (10, 0)], 1) == pytest.approx(0.15)
    assert mean_pass_at_k([], 1) == 0.0
    assert pass_at_k_from_outcomes([True, False, False, False], 2) == pytest.approx(0.5)
    with pytest.raises(UsageError, match="at least k samples"):
        pass_at_k(3, 1, 5)
    with pytest.raises(UsageError):
        pass_at_k(3, 4, 1)
