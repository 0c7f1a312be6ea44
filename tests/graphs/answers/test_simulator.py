"""Answers against the simulator over loopback HTTP: its solver replies vote correctly,
its equivalence role understands the judge's prompt, and llm_match uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from thinktank.evals import EvalContext, Task, evaluate
from thinktank.evals.tasks.evaluators import LLMMatchConfig
from thinktank.graphs.answers import canonical_key, judge_equivalence, judge_keys, vote
from thinktank.llm import ChatModel, load_model
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[ChatModel, TaskSet]]:
    tasks = TaskSet.generate(2, seed=11, p_correct=[0.9, 0.9])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        yield load_model(f"openai:sim@{server.base_url}"), tasks


async def test_solver_replies_parse_and_vote(sim: tuple[ChatModel, TaskSet]) -> None:
    model, tasks = sim
    for q in tasks.questions:
        replies = [
            c.text
            for c in await model.generate(
                [{"role": "user", "content": q.question}], n=9, temperature=1.0
            )
        ]
        keys = [canonical_key(r, "text") for r in replies]
        assert sum(k is not None for k in keys) >= 6  # most replies state an answer
        winner = vote(replies, "text").winner
        assert winner is not None and q.is_correct(winner)


async def test_judge_prompt_is_understood(sim: tuple[ChatModel, TaskSet]) -> None:
    model, _ = sim
    same = await judge_equivalence(model, "42.0", "42")  # differ as text: the judge is asked
    assert same.equivalent and same.reason != "identical after normalisation"
    differ = await judge_equivalence(model, "Tessaly", "Varn", question="Which town?")
    assert not differ.equivalent and differ.reason
    keys = await judge_keys(model, ["Answer: Varn", "Answer: Tessaly", "Answer: Varn"])
    assert keys == ["varn", "tessaly", "varn"]


async def test_llm_match_with_simulator_judge(sim: tuple[ChatModel, TaskSet]) -> None:
    model, _ = sim
    task = Task(
        id="x", kind="text", prompt="Which town?", expected="Tessaly", evaluator=LLMMatchConfig()
    )
    ctx = EvalContext(judge=model)
    assert not (await evaluate(task, "Answer: Varn", ctx)).correct
    assert (await evaluate(task, "Answer: TESSALY.", ctx)).correct
