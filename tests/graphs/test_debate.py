"""debate: later rounds see every debater's previous answer; vote or judge at the end."""

from __future__ import annotations

from thinktank.graphs import compile
from thinktank.graphs.topologies import debate
from thinktank.llm.types import ChatRequest

from .helpers import by_role, cycling, numbered_answers, outputs_of, user_text


async def test_rounds_show_every_debaters_previous_answer() -> None:
    prompts: list[str] = []
    answers = cycling("11", "12", "13", "12", "12", "12")

    def debater(req: ChatRequest) -> str:
        prompts.append(user_text(req))
        return answers(req)

    res = await compile(debate(m=3, r=2), models=by_role({"debater": debater})).run("q?")
    assert res.rounds == 2 and res.answer == "12"
    assert all("Answers from other agents" not in p for p in prompts[:3])
    for p in prompts[3:]:
        assert all(f"Answer: {a}" in p for a in ("11", "12", "13"))
    assert len(outputs_of(res, "debater", 2)) == 3
    assert {c.round for c in res.candidates} == {2}  # the vote is over the last round


async def test_judge_reads_only_the_last_round() -> None:
    seen: list[list[str]] = []

    def judge(req: ChatRequest) -> str:
        seen.append(numbered_answers(req))
        return '{"best": 2}'

    model = by_role({"debater": cycling("1", "2", "3", "4", "5", "6"), "judge": judge})
    res = await compile(debate(m=3, r=2, select="judge"), models=model).run("q?")
    assert len(seen) == 1 and sorted(seen[0]) == ["4", "5", "6"]
    assert res.answer == seen[0][1]


async def test_stop_on_agreement_ends_the_debate_early() -> None:
    model = by_role({"debater": "Answer: 7"})
    res = await compile(debate(m=3, r=4, stop_on_agreement=1.0), models=model).run("q?")
    assert res.rounds == 1 and res.status == "ok" and res.answer == "7"
