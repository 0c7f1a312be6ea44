"""ExecutionScorer: hybrid_verify and test_vote select code by running it (local sandbox; Docker marked)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from thinktank.graphs import compile
from thinktank.graphs.execution import ExecutionScorer, generated_tests, program_with
from thinktank.graphs.topologies import hybrid_verify, test_vote
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes import LocalSandboxConfig, open_sandbox

from .helpers import by_role, candidate_answer, verdict

GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
GOOD2 = "```python\ndef add(x, y):\n    total = x + y\n    return total\n```"
BAD = "```python\ndef add(a, b):\n    return a - b\n```"

TASK: dict[str, Any] = {
    "id": "add",
    "kind": "code",
    "prompt": "Write add(a, b) returning the sum.",
    "metadata": {
        "entry_point": "add",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
    },
}


def replies(*texts: str) -> Any:
    state = {"i": 0}

    def fn(req: ChatRequest) -> str:
        text = texts[state["i"] % len(texts)]
        state["i"] += 1
        return text

    return fn


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    async with await open_sandbox(LocalSandboxConfig()) as sb:
        yield sb


async def test_test_vote_cross_runs_generated_tests(sandbox: Any) -> None:
    good = GOOD + "\n```tests\nassert add(1, 2) == 3\n```"
    good2 = GOOD2 + "\n```tests\nassert add(0, 5) == 5\nassert add(2, 2) == 4\n```"
    bad = BAD + "\n```tests\nassert add(3, 1) == 2\n```"  # passes only its own wrong test
    model = by_role({"solver": replies(bad, good, bad, good2)})
    scorer = ExecutionScorer(sandbox)
    res = await compile(test_vote(n=4), models=model, scorer=scorer).run(TASK)
    assert res.status == "ok"
    assert "return a + b" in (res.answer or "") or "total = x + y" in (res.answer or "")
    scores = sorted((c.score or 0.0) for c in res.candidates)
    assert scores == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert scorer.runs == 3 * 3  # distinct programs x distinct tests


@pytest.mark.parametrize(("weight", "winner"), [(0.5, "a + b"), (0.0, "a - b")])
async def test_hybrid_weighs_tests_against_the_llm_judge(
    sandbox: Any, weight: float, winner: str
) -> None:
    # the LLM verifier prefers the buggy program; the task's tests do not
    model = by_role(
        {
            "solver": replies(GOOD, BAD, BAD),
            "verifier": lambda req: verdict(True, 0.9 if "a - b" in _program(req) else 0.2),
        }
    )
    spec = hybrid_verify(n=3, exec_weight=weight)
    res = await compile(spec, models=model, sandbox=sandbox).run(TASK)
    assert winner in (res.answer or "")
    good = next(c for c in res.candidates if "a + b" in (c.answer or ""))
    assert good.score == pytest.approx(weight * 1.0 + (1 - weight) * 0.2)


async def test_hybrid_with_a_listwise_judge(sandbox: Any) -> None:
    def judge(req: ChatRequest) -> str:
        blocks = re.split(r"^Candidate \d+:$", str(req.messages[-1]["content"]), flags=re.M)[1:]
        return json.dumps({"best": next(i for i, b in enumerate(blocks, 1) if "a - b" in b)})

    model = by_role({"solver": replies(GOOD, BAD), "judge": judge})
    spec = hybrid_verify(n=2, exec_weight=0.3, llm="judge")
    res = await compile(spec, models=model, sandbox=sandbox).run(TASK)
    scores = {("a + b" in (c.answer or "")): c.score for c in res.candidates}
    assert scores == {True: pytest.approx(0.3), False: pytest.approx(0.7)}
    assert "a - b" in (res.answer or "")  # the judge's pick outweighs the tests at 0.3


def _program(req: ChatRequest) -> str:
    return str(req.messages[-1]["content"]) + candidate_answer(req)


async def test_hidden_tests_can_be_excluded(sandbox: Any) -> None:
    model = by_role({"solver": replies(GOOD, BAD)})
    scorer = ExecutionScorer(sandbox, hidden_tests=False)
    spec = hybrid_verify(n=2, exec_weight=1.0)
    res = await compile(spec, models=model, scorer=scorer).run(TASK)
    assert scorer.runs == 0  # no public tests and no generated ones
    assert {c.score for c in res.candidates} == {0.0}


async def test_the_scorer_opens_and_closes_a_sandbox_from_a_config() -> None:
    model = by_role({"solver": replies(GOOD + "\n```tests\nassert add(1, 1) == 2\n```")})
    res = await compile(test_vote(n=2), models=model, sandbox=LocalSandboxConfig()).run(TASK)
    assert res.status == "ok" and [c.score for c in res.candidates] == [1.0, 1.0]


def test_program_completes_a_humaneval_prompt() -> None:
    meta = {
        "entry_point": "inc",
        "code_prompt": "import math\n\ndef inc(x):\n    '''Add one.'''\n",
        "test": "def check(candidate):\n    assert candidate(1) == 2\n",
    }
    body = "    return x + 1\n"
    src = program_with(body, meta["test"], meta)
    assert src.startswith("import math") and src.rstrip().endswith("check(inc)")
    full = program_with("def inc(x):\n    return x + 1\n", meta["test"], meta)
    assert full.count("def inc") == 1 and "import math" in full


def test_generated_tests_are_the_tests_blocks() -> None:
    text = GOOD + "\n```tests\nassert add(1, 1) == 2\n```\n```python\nprint(1)\n```"
    assert generated_tests(text) == ["assert add(1, 1) == 2\n"]


@pytest.mark.docker
async def test_hybrid_in_docker() -> None:
    from thinktank.sandboxes import DockerSandboxConfig
    from thinktank.sandboxes.testing import require_docker

    require_docker()
    model = by_role({"solver": replies(GOOD, BAD), "verifier": verdict(True, 0.5)})
    spec = hybrid_verify(n=2, exec_weight=0.8)
    res = await compile(spec, models=model, sandbox=DockerSandboxConfig()).run(TASK)
    assert "a + b" in (res.answer or "")
