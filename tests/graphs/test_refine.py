"""refine (MAgICoRe): agreeing items are voted; only disagreeing ones are reviewed and refined."""

from __future__ import annotations

import re

from thinktank.graphs import compile
from thinktank.graphs.topologies import refine
from thinktank.llm.types import ChatRequest

from .helpers import by_role, cycling, outputs_of, user_text


async def test_easy_item_is_voted_without_review() -> None:
    model = by_role({"solver": cycling("8", "8", "8", "9")})  # 3 of 4 agree (>= 0.75)
    res = await compile(refine(k=4), models=model).run("q?")
    assert res.status == "ok" and res.answer == "8" and res.rounds == 1
    assert not outputs_of(res, "critic") and not outputs_of(res, "refiner")


async def test_hard_item_is_reviewed_and_each_solution_refined() -> None:
    refined: list[str] = []

    def refiner(req: ChatRequest) -> str:
        text = user_text(req)
        refined.append(re.findall(r"^Answer: (.*)$", text, re.M)[0])
        assert "Issues:\n- carry the one" in text  # the critic's feedback
        return "Fixed it.\nAnswer: 9"

    model = by_role(
        {
            "solver": cycling("1", "2", "3", "4"),
            "critic": '{"issues": ["carry the one"], "suggestions": []}',
            "refiner": refiner,
        }
    )
    res = await compile(refine(k=4, iterations=2), models=model).run("q?")
    assert res.status == "ok" and res.answer == "9"
    assert res.rounds == 2  # the refinements agreed: no second review
    assert len(outputs_of(res, "critic", 2)) == 1
    assert sorted(refined) == ["1", "2", "3", "4"]  # each solution refined once


async def test_refiners_revise_their_own_previous_version_until_the_limit() -> None:
    shown: list[tuple[int, str]] = []
    state = {"n": 0}

    def refiner(req: ChatRequest) -> str:
        prev = re.findall(r"^Answer: (.*)$", user_text(req), re.M)[0]
        shown.append((state["n"] // 4, prev))
        state["n"] += 1
        return f"Answer: r{state['n']}"  # never agree

    model = by_role({"solver": cycling("1", "2", "3", "4"), "refiner": refiner})
    res = await compile(refine(k=4, iterations=2), models=model).run("q?")
    assert res.status == "max_rounds" and res.rounds == 3
    assert {prev for batch, prev in shown if batch == 0} == {"1", "2", "3", "4"}
    assert all(prev.startswith("r") for batch, prev in shown if batch == 1)
    assert res.selection is not None and {c.node for c in res.candidates} == {"refiner"}
