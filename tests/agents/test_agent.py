"""The agent loop with scripted models and real tools."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thinktank.agents.agent import Agent
from thinktank.agents.context import elide_old_observations
from thinktank.agents.roles import (
    AnswerOutput,
    Critique,
    Decision,
    Selection,
    Verification,
    load_prompt,
)
from thinktank.agents.trajectory import Trajectory
from thinktank.errors import ConfigError, OutputParseError, Submitted
from thinktank.llm import Budget, scope
from thinktank.llm.testing import ScriptedModel
from thinktank.llm.types import ToolCall
from thinktank.tools import tool


@tool
async def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first
        b: second
    """
    return a + b


@tool
async def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: why
    """
    raise RuntimeError(f"kaboom: {reason}")


@tool
async def submit(patch: str) -> str:
    """Submit the final patch.

    Args:
        patch: the diff
    """
    raise Submitted(patch, metadata={"lines": patch.count("\n")})


async def test_tool_loop_to_a_typed_answer_and_json_round_trip() -> None:
    model = ScriptedModel(
        [{"name": "add", "arguments": {"a": 2, "b": 3}}, "The sum is 5.\nAnswer: 5"]
    )
    traj = await Agent("solver", model, tools=[add]).run("What is 2+3?")
    assert traj.status == "ok" and traj.output == {
        "answer": "5",
        "reasoning": "The sum is 5.\nAnswer: 5",
    }
    assert traj.steps[0].tool_calls[0].content == "5" and not traj.steps[0].tool_calls[0].is_error
    assert [m["role"] for m in traj.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    # the model saw the tool schema
    assert model.requests[0].tools and model.requests[0].tools[0]["function"]["name"] == "add"
    again = Trajectory.model_validate_json(traj.model_dump_json())
    assert again == traj and again.usage.completion_tokens > 0


async def test_bad_calls_become_observations_never_crashes() -> None:
    model = ScriptedModel(
        [
            [ToolCall(id="c1", name="add", arguments='{"a": 1, "b": ')],  # malformed JSON
            [ToolCall(id="c2", name="nope", arguments="{}")],  # unknown tool
            [ToolCall(id="c3", name="add", arguments='{"a": "x", "b": 2}')],  # wrong type
            [ToolCall(id="c4", name="explode", arguments='{"reason": "test"}')],  # tool raises
            "Answer: 3",
        ]
    )
    traj = await Agent("solver", model, tools=[add, explode]).run("1+2?")
    results = [s.tool_calls[0] for s in traj.steps[:4]]
    assert all(r.is_error for r in results)
    assert "JSON" in results[0].content or "json" in results[0].content
    assert "unknown tool" in results[1].content and "add" in results[1].content
    assert "a" in results[2].content
    assert "kaboom: test" in results[3].content
    assert traj.status == "ok" and traj.output["answer"] == "3"


async def test_step_limit_ends_with_max_steps() -> None:
    model = ScriptedModel([{"name": "add", "arguments": {"a": 1, "b": 1}}] * 3)
    traj = await Agent("solver", model, tools=[add], max_steps=3).run("loop forever")
    assert traj.status == "max_steps" and len(traj.steps) == 3 and model.remaining == 0


async def test_empty_reply_gets_feedback_then_answer() -> None:
    model = ScriptedModel(["", "Answer: 7"])
    traj = await Agent("solver", model).run("?")
    assert traj.steps[0].feedback and "empty" in traj.steps[0].feedback
    assert traj.output["answer"] == "7"


async def test_unparseable_typed_output_gets_feedback() -> None:
    model = ScriptedModel(
        ["hmm, hard to say", '{"verdict": false, "score": 0.1, "rationale": "wrong sum"}']
    )
    traj = await Agent("verifier", model).run("Task: 2+2\nCandidate answer: 5")
    assert "could not be read" in (traj.steps[0].feedback or "")
    assert traj.output == {"verdict": False, "score": 0.1, "rationale": "wrong sum"}


async def test_submit_ends_the_run_with_the_submission() -> None:
    model = ScriptedModel([{"name": "submit", "arguments": {"patch": "diff --git a/x b/x\n"}}])
    traj = await Agent("solver", model, tools=[submit]).run("fix it")
    assert traj.status == "submitted" and traj.output.startswith("diff --git")
    assert traj.steps[0].tool_calls[0].metadata == {"lines": 1}


async def test_budget_exhaustion_is_a_status_not_an_exception() -> None:
    model = ScriptedModel([{"name": "add", "arguments": {"a": 1, "b": 1}}, "Answer: 2"])
    traj = await Agent("solver", model, tools=[add], budget=Budget(max_calls=1)).run("?")
    assert traj.status == "budget_exhausted" and "call limit" in (traj.error or "")
    assert len(traj.steps) == 1


async def test_outer_budget_scope_is_charged() -> None:
    run_budget = Budget(max_calls=10)
    with scope(budget=run_budget):
        await Agent("solver", ScriptedModel(["Answer: 1"])).run("?")
    assert run_budget.calls == 1


@dataclass
class Item:
    id: str
    title: str
    description: str
    content: str


async def test_memory_items_are_rendered_into_the_system_prompt() -> None:
    model = ScriptedModel(["Answer: 24"])
    mem = [Item("m1", "Use a solver", "for Game of 24", "Enumerate all expressions with code.")]
    traj = await Agent("solver", model, memory=mem).run("24 from 1 2 3 4")
    system = model.requests[0].messages[0]["content"]
    assert "Lessons from earlier tasks" in system and "Enumerate all expressions" in system
    assert traj.memory_ids == ["m1"]


def test_old_observations_are_elided_past_the_threshold() -> None:
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "task"}]
    for i in range(6):
        msgs.append({"role": "assistant", "content": f"step {i}"})
        msgs.append({"role": "tool", "tool_call_id": str(i), "content": "x" * 3000})
    n = elide_old_observations(msgs, max_tokens=3500, keep_last=2)
    assert n >= 1
    tools = [m for m in msgs if m["role"] == "tool"]
    assert (
        tools[0]["content"].startswith("[older observation elided")
        and tools[-1]["content"] == "x" * 3000
    )
    assert all(m["content"].startswith("step") for m in msgs if m["role"] == "assistant")


def test_role_outputs_parse_json_and_plain_text() -> None:
    assert AnswerOutput.from_text("work\n\\boxed{\\frac{1}{2}}").answer == "\\frac{1}{2}"
    assert Verification.from_text("Verdict: incorrect\nScore: 0.2").score == 0.2
    assert Critique.from_text('{"issues": ["sign error"], "suggestions": ["recheck"]}').issues == [
        "sign error"
    ]
    assert Selection.from_text('{"best": "3", "rationale": "most complete"}').best == 3
    d = Decision.from_text(
        '```json\n{"action": "continue", "recruit": 2, "direction": "check units", "token_budget": 300}\n```'
    )
    assert (d.action, d.recruit, d.direction, d.token_budget) == ("continue", 2, "check units", 300)
    with pytest.raises(OutputParseError):
        Selection.from_text("no idea")


def test_unknown_role_lists_valid_ones(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="solver"):
        Agent("wizard", ScriptedModel([]))
    assert "verifier" in load_prompt("verifier")
