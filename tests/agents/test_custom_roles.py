"""Your own roles: registered from Python or declared as data, played by a real agent loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from thinktank.agents.agent import Agent
from thinktank.agents.roles import (
    ANSWER_ROLES,
    BUILT_IN,
    ROLES,
    RoleDecl,
    declare_role,
    find_role,
    lookup_role,
    register_role,
    role_does,
    temporary_roles,
)
from thinktank.agents.schema import schema_model
from thinktank.errors import ConfigError, OutputParseError
from thinktank.llm.testing import ScriptedModel


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    with temporary_roles():
        yield


class Plan(BaseModel):
    steps: list[str] = Field(description="what to do, in order")
    risk: str = "low"


class Review(BaseModel):
    verdict: bool
    score: float = Field(ge=0, le=1)
    comments: str = ""


PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "risk": {"enum": ["low", "high"], "default": "low"},
    },
    "required": ["steps"],
}


def test_a_registered_role_is_found_by_what_it_does_and_counts_as_answering() -> None:
    assert "coder" not in ANSWER_ROLES and role_does("coder") is None
    register_role("coder", instructions="You are a coder. Answer with code.")
    register_role("planner", instructions="You are a planner.", output=Plan, does="context")
    assert "coder" in ANSWER_ROLES and "planner" not in ANSWER_ROLES
    assert role_does("planner") == "context" and lookup_role("planner").reads == "task"
    assert register_role("reviewer", instructions="x", output=Review, does="score").reads == (
        "answers"
    )


async def test_a_custom_output_type_is_parsed_from_json_and_its_format_is_in_the_prompt() -> None:
    register_role("planner", instructions="You are a planner.", output=Plan, does="context")
    model = ScriptedModel(['Here it is: {"steps": ["read", "write"], "risk": "high"}'])
    agent = Agent("planner", model)
    assert "steps (required): a list of text — what to do, in order" in agent.instructions
    traj = await agent.run("Plan the work.")
    assert traj.output == {"steps": ["read", "write"], "risk": "high"}


async def test_a_reply_that_does_not_parse_becomes_feedback_naming_the_fields() -> None:
    register_role("reviewer", instructions="You review code.", output=Review, does="score")
    model = ScriptedModel(["It looks fine to me.", '{"verdict": "pass", "score": 0.75}'])
    traj = await Agent("reviewer", model).run("Review this.")
    assert traj.output == {"verdict": True, "score": 0.75, "comments": ""}
    feedback = traj.steps[0].feedback or ""
    assert "could not be read" in feedback and "could not read a Review" in feedback
    assert "verdict (required): true or false" in feedback
    assert "score (required): a number" in feedback


def test_plain_replies_fill_fields_from_lines_and_a_single_field_from_the_whole_reply() -> None:
    review = lookup_role(
        register_role("reviewer", instructions="x", output=Review, does="score").name
    ).output
    got = review.from_text("Verdict: correct\nScore: 0.8\nComments: tidy").model_dump()
    assert got == {"verdict": True, "score": 0.8, "comments": "tidy"}
    plan = register_role("planner", instructions="x", output=Plan, does="context").output
    assert plan.from_text("- read the task\n- write tests\n").model_dump() == {
        "steps": ["read the task", "write tests"],
        "risk": "low",
    }
    with pytest.raises(OutputParseError, match="score: Input should be less than or equal"):
        review.from_text('{"verdict": true, "score": 7}')


def test_a_json_schema_is_an_output_type() -> None:
    out = register_role("planner", instructions="x", output=PLAN_SCHEMA, does="context").output
    assert out.from_text('{"steps": ["a"]}').model_dump() == {"steps": ["a"], "risk": "low"}
    with pytest.raises(OutputParseError, match="risk: Input should be 'low' or 'high'"):
        out.from_text('{"steps": ["a"], "risk": "medium"}')
    nested = schema_model(
        {
            "type": "object",
            "properties": {"item": {"$ref": "#/$defs/Item"}, "n": {"type": ["integer", "null"]}},
            "required": ["item"],
            "$defs": {"Item": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
        "Nested",
    )
    assert nested.model_validate({"item": {"name": "x"}}).model_dump() == {
        "item": {"name": "x"},
        "n": None,
    }


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "string"}, "must describe an object"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "x+"}}},
            "at a uses 'pattern', which output schemas do not support",
        ),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/B"}}}, "not in its $defs"),
        ({"type": "object", "properties": {"a": {}}, "required": ["b"]}, "requires ['b']"),
    ],
)
def test_an_unsupported_schema_is_refused_saying_where(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="role 'bad': the output schema") as err:
        register_role("bad", instructions="x", output=schema, does="context")
    assert message in str(err.value)


def test_a_role_s_output_must_carry_what_its_act_needs() -> None:
    with pytest.raises(ConfigError, match="needs a 'score' or 'verdict' field"):
        register_role("grader", instructions="x", output=Plan, does="score")
    with pytest.raises(ConfigError, match="needs a 'answer' field"):
        register_role("writer", instructions="x", output=Plan)
    with pytest.raises(ConfigError, match="needs instructions"):
        register_role("mute")


def test_registering_again_is_idempotent_and_a_different_definition_is_refused() -> None:
    first = register_role("planner", instructions="Plan.", output=Plan, does="context")
    assert register_role("planner", instructions="Plan.", output=Plan, does="context") == first
    with pytest.raises(ConfigError, match=r"already registered .* pass replace=True"):
        register_role("planner", instructions="Plan better.", output=Plan, does="context")
    assert lookup_role("planner").instructions == "Plan."
    register_role("planner", instructions="Plan better.", output=Plan, replace=True, does="context")
    assert lookup_role("planner").instructions == "Plan better."
    with pytest.raises(ConfigError, match="'solver' is built in"):
        register_role("solver", instructions="Mine.", replace=True)


def test_a_declaration_round_trips_and_registers_the_same_role() -> None:
    made = register_role("planner", instructions="Plan.", output=Plan, does="context")
    assert made.declaration().output == "tests.agents.test_custom_roles:Plan"

    class Local(BaseModel):  # cannot be imported back: the declaration carries its schema
        steps: list[str]

    made = register_role("local", instructions="Plan.", output=Local, does="context")
    decl = made.declaration()
    assert decl.output == Local.model_json_schema()
    data = decl.model_dump(mode="json")
    assert declare_role(RoleDecl.model_validate(data)).declaration() == decl
    other = RoleDecl(name="local", instructions="Plan.", does="answer")
    with pytest.raises(ConfigError, match="already registered"):
        declare_role(other)


def test_unknown_roles_list_the_valid_ones_and_say_how_to_add_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown role 'planner'; valid roles: .*register_role"):
        lookup_role("planner")
    assert find_role("planner") is None
    assert set(BUILT_IN) <= set(ROLES)


def test_an_agent_will_not_play_a_function_role() -> None:
    async def compute(task: Any, inputs: Any, ctx: Any) -> str:
        return "42"

    register_role("computed", function=compute)
    with pytest.raises(ConfigError, match=r"computed by the function .*compute"):
        Agent("computed", ScriptedModel(["x"]))


def test_a_role_s_own_instructions_get_the_reply_format_unless_any_reply_parses() -> None:
    scorer = register_role("grader2", instructions="Grade it.", does="score")
    assert scorer.prompt().startswith("Grade it.\n\nReply with a JSON object with the fields:")
    assert "verdict (required): true or false" in scorer.prompt()
    assert register_role("writer", instructions="Write it.").prompt() == "Write it."
    assert register_role("notes", instructions="Note it.", does="context").prompt() == "Note it."
    assert lookup_role("verifier").prompt() == lookup_role("verifier").prompt(None)  # packaged
    assert "Reply with a JSON object" not in lookup_role("verifier").prompt()


def test_register_role_refuses_bad_names_acts_and_reads_with_the_valid_ones() -> None:
    from thinktank.agents.roles import register_role as register

    with pytest.raises(ConfigError, match=r"role name 'my role!': letters, digits"):
        register("my role!", instructions="x")
    with pytest.raises(ConfigError, match=r"does='judge'; valid: answer, refine, score"):
        register("judgy", instructions="x", does="judge")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"reads='everything'; valid: task, answers"):
        register("greedy", instructions="x", does="critique", reads="everything")  # type: ignore[arg-type]
