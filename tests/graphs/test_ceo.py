"""ceo: the coordinator's decisions are enforced by the graph and visible in the trace."""

from __future__ import annotations

import json
from collections.abc import Callable

from thinktank.graphs import compile
from thinktank.graphs.topologies import ceo
from thinktank.llm.types import ChatRequest

from .helpers import by_role, outputs_of, role_of, user_text


def decisions(*plan: dict[str, object]) -> Callable[[ChatRequest], str]:
    """CEO replies: the given decisions, one per round, then ``continue``."""
    state = {"round": 0}

    def reply(req: ChatRequest) -> str:
        i = state["round"]
        state["round"] += 1
        return json.dumps(plan[i] if i < len(plan) else {"action": "continue"})

    return reply


async def test_stop_ends_the_run() -> None:
    model = by_role({"solver": "Answer: 12", "ceo": decisions({"action": "stop", "answer": "12"})})
    res = await compile(ceo(rounds=4), models=model).run("q?")
    assert res.status == "stopped_by_ceo"
    assert res.rounds == 1 and res.answer == "12"
    assert res.decisions[0].enforced["stop"] is True
    assert not [o for o in res.trace.outputs if o.round > 1]
    assert any(e.kind == "decision" and e.action == "stop" for e in res.trace.events)


async def test_recruit_sets_the_active_critics_of_the_next_round() -> None:
    model = by_role(
        {
            "solver": "Answer: 3",
            "ceo": decisions(
                {"action": "continue", "recruit": 3},
                {"action": "continue", "recruit": 0},
                {"action": "continue", "recruit": 2},
            ),
        }
    )
    res = await compile(ceo(critics=3, active=1, rounds=4), models=model).run("q?")
    per_round = [len(outputs_of(res, "critic", r)) for r in (1, 2, 3, 4)]
    assert per_round == [1, 3, 0, 2]
    assert res.status == "max_rounds"
    skipped = [e for e in res.trace.events if e.kind == "skip" and e.node == "critic"]
    assert [e.round for e in skipped] == [3]
    assert [d.enforced["control"]["active"]["critic"] for d in res.decisions[:3]] == [3, 0, 2]


async def test_token_budget_becomes_next_rounds_max_tokens() -> None:
    seen: list[tuple[int, int | None]] = []  # (CEO decisions so far, max_tokens) per solver call
    ceo_reply = decisions({"action": "continue", "token_budget": 77})

    def solver(req: ChatRequest) -> str:
        seen.append((calls["ceo"], req.max_tokens))
        return "Answer: 1"

    def boss(req: ChatRequest) -> str:
        calls["ceo"] += 1
        return ceo_reply(req)

    calls = {"ceo": 0}
    model = by_role({"solver": solver, "ceo": boss})
    res = await compile(ceo(rounds=3, max_tokens=500), models=model).run("q?")
    by_round = dict(seen)
    assert by_round[0] == 500  # round 1: the node's own limit
    assert by_round[1] == 77  # round 2: the CEO's budget
    assert by_round[2] == 500  # round 3: the CEO set no budget (0 keeps the default)
    assert res.decisions[0].enforced["control"]["max_tokens"] == 77


async def test_direction_is_shown_to_every_agent_next_round() -> None:
    prompts: list[tuple[str, str]] = []

    def record(reply: str) -> Callable[[ChatRequest], str]:
        def fn(req: ChatRequest) -> str:
            prompts.append((role_of(req), user_text(req)))
            return reply

        return fn

    model = by_role(
        {
            "solver": record("Answer: 2"),
            "critic": record('{"issues": ["sign error"]}'),
            "ceo": decisions({"action": "continue", "recruit": 1, "direction": "Check the signs."}),
        }
    )
    await compile(ceo(rounds=2), models=model).run("q?")
    marked = [
        role for role, text in prompts if "Direction from the coordinator: Check the signs." in text
    ]
    assert sorted(marked) == ["critic", "solver"]  # round 2 only, every agent
    assert len(prompts) == 4


async def test_a_missing_decision_is_traced_and_the_run_goes_on() -> None:
    model = by_role({"solver": "Answer: 5", "ceo": "I cannot decide."})
    res = await compile(ceo(rounds=2), models=model).run("q?")
    assert res.status == "max_rounds" and res.answer == "5"
    assert [e.round for e in res.trace.events if e.kind == "decision_missing"] == [1, 2]
