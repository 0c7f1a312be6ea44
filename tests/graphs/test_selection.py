"""best_of_n, mav and fusion: each selection method picks what it should."""

from __future__ import annotations

import asyncio
import itertools
import json

from thinktank.graphs import compile
from thinktank.graphs.topologies import best_of_n, fusion, mav
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest

from .helpers import by_role, candidate_answer, cycling, numbered_answers, outputs_of, verdict


async def test_vote_picks_the_majority() -> None:
    model = by_role({"solver": cycling("7", "3", "7", "5", "7")})
    res = await compile(best_of_n(n=5, select="vote"), models=model).run("q?")
    assert res.status == "ok" and res.answer == "7"
    assert res.samples == 5
    assert res.selection is not None and res.selection.detail["counts"]["7"] == 3


async def test_a_task_of_its_own_answer_kind_is_voted_that_way() -> None:
    # Game-of-24 replies are expressions: voted as text, not by their last number
    answers = ("(8 - 4) * (7 - 1)", "8 * 3 * (2 - 1)", "8 * 3 * (2 - 1)", "(6 - 4) * (13 - 1)")
    model = by_role({"solver": cycling(*answers)})
    task = {"prompt": "Make 24 from 8 3 2 1", "kind": "math", "metadata": {"answer_kind": "exact"}}
    res = await compile(best_of_n(n=4, select="vote"), models=model).run(task)
    assert res.answer == "8 * 3 * (2 - 1)"
    assert res.selection is not None and res.selection.detail["answer_kind"] == "exact"
    assert len(res.selection.detail["counts"]) == 3
    plain = await compile(
        best_of_n(n=4, select="vote"), models=by_role({"solver": cycling(*answers)})
    ).run({"prompt": "Make 24 from 8 3 2 1", "kind": "math"})
    assert plain.selection is not None and plain.selection.detail["answer_kind"] == "number"


async def test_verifier_selection_picks_the_highest_score_not_the_majority() -> None:
    scores = {"1": 0.3, "2": 0.95}
    model = by_role(
        {
            "solver": cycling("1", "1", "1", "2"),
            "verifier": lambda req: verdict(True, scores[candidate_answer(req)]),
        }
    )
    res = await compile(best_of_n(n=4, select="verifier"), models=model).run("q?")
    assert res.answer == "2"
    assert len(outputs_of(res, "verifier")) == 4  # one verification per candidate
    best = max(res.candidates, key=lambda c: c.score or 0)
    assert best.answer == "2" and best.score == 0.95


async def test_judge_selection_takes_the_judges_pick() -> None:
    def judge(req: ChatRequest) -> str:
        return json.dumps({"best": numbered_answers(req).index("2") + 1})

    model = by_role({"solver": cycling("1", "2", "1"), "judge": judge})
    res = await compile(best_of_n(n=3, select="judge"), models=model).run("q?")
    assert res.answer == "2"
    assert res.selection is not None and sum(res.selection.detail["judge_picks"].values()) == 1


async def test_mav_counts_approvals_over_every_aspect_verifier() -> None:
    approve = {"aspect1": {"2"}, "aspect2": {"1", "2"}, "aspect3": {"2"}}
    seen_aspects: set[str] = set()

    def verifier(req: ChatRequest) -> str:
        system = str(req.messages[0]["content"])
        aspect = next(a for a, text in _ASPECTS.items() if text in system)
        seen_aspects.add(aspect)
        return verdict(candidate_answer(req) in approve[aspect])

    model = by_role({"solver": cycling("1", "1", "1", "2"), "verifier": verifier})
    spec = mav(n=4, aspects=list(_ASPECTS.values()))
    res = await compile(spec, models=model).run("q?")
    assert res.answer == "2"  # 3 approvals beat the majority's 1
    assert seen_aspects == {"aspect1", "aspect2", "aspect3"}
    assert len(res.verifications) == 12  # 4 candidates x 3 aspects
    assert sorted(c.approvals for c in res.candidates) == [1, 1, 1, 3]


_ASPECTS = {
    "aspect1": "units are right",
    "aspect2": "arithmetic is right",
    "aspect3": "question answered",
}


def _timed(delays: dict[int, tuple[float, str]]) -> FunctionModel:
    counter = itertools.count()

    async def fn(req: ChatRequest) -> str:
        delay, answer = delays[next(counter)]
        await asyncio.sleep(delay)
        return f"Answer: {answer}"

    return FunctionModel(fn)


async def test_first_finish_keeps_the_fastest_and_cancels_the_rest() -> None:
    model = _timed({0: (0.3, "slow"), 1: (0.01, "fast"), 2: (0.3, "slow")})
    res = await compile(best_of_n(n=3, select="first_finish"), models=model).run("q?")
    assert res.answer == "fast"
    assert len(res.trace.outputs) == 1


async def test_short_m_at_k_votes_over_the_first_m_to_finish() -> None:
    plan = {0: (0.3, "6"), 1: (0.01, "4"), 2: (0.3, "6"), 3: (0.02, "4"), 4: (0.03, "6")}
    res = await compile(best_of_n(n=5, select="short_m_at_k", m=3), models=_timed(plan)).run("q?")
    assert res.answer == "4"  # a vote over all five would say 6
    assert len(res.candidates) == 3


async def test_fusion_returns_the_fusers_synthesis() -> None:
    seen: list[list[str]] = []

    def fuser(req: ChatRequest) -> str:
        seen.append(numbered_answers(req))
        return "Combining the candidates.\nAnswer: 42"

    model = by_role({"solver": cycling("40", "41", "43"), "fuser": fuser})
    res = await compile(fusion(n=3), models=model).run("q?")
    assert res.answer == "42"
    assert sorted(seen[0]) == ["40", "41", "43"]  # the fuser saw every candidate
