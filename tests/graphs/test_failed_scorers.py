"""A scorer that failed for every candidate ends the run ``degraded``; nodes that can never
run are refused when the graph is built."""

from __future__ import annotations

import pytest

from thinktank.errors import ConfigError, ModelUnavailable
from thinktank.graphs import CEO, Critic, Graph, Judge, Solver, Verifier, compile
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.topologies import best_of_n, fusion, mav
from thinktank.llm.testing import ScriptedModel
from thinktank.llm.types import ChatRequest

from .helpers import by_role, cycling, outputs_of, verdict

DOWN = "connection refused by http://127.0.0.1:9/v1: nothing is listening at that address"


def _raise(req: ChatRequest) -> str:
    raise ModelUnavailable(DOWN, endpoint="http://127.0.0.1:9/v1")


@pytest.mark.parametrize("select", ["verifier", "judge"])
async def test_a_scorer_whose_every_call_raised_degrades_the_run_to_a_vote(select: str) -> None:
    model = by_role({"solver": cycling("7", "3", "7", "5"), select: _raise})
    res = await compile(best_of_n(n=4, select=select), models=model).run("q?")
    assert res.status == "degraded"
    assert res.answer == "7"  # the majority vote
    assert res.error is not None
    assert f"selection {select!r} fell back to a majority vote" in res.error
    assert "ModelUnavailable" in res.error and DOWN in res.error
    assert res.selection is not None and res.selection.detail["degraded"] == res.error
    if select == "verifier":
        assert all(c.score is None for c in res.candidates)
        assert "4 of 4 calls failed" in res.error


async def test_mav_with_every_verifier_failing_is_degraded_not_a_pick_among_zeros() -> None:
    model = by_role({"solver": cycling("1", "2", "2"), "verifier": _raise})
    res = await compile(mav(n=3, k=2), models=model).run("q?")
    assert res.status == "degraded" and res.answer == "2"
    assert "selection 'mav'" in (res.error or "")


async def test_unreadable_verdicts_degrade_the_run_too() -> None:
    model = by_role({"solver": cycling("4", "4", "9"), "verifier": "I am not sure."})
    res = await compile(best_of_n(n=3, select="verifier"), models=model).run("q?")
    assert res.status == "degraded" and res.answer == "4"
    assert outputs_of(res, "verifier")


async def test_a_fuser_that_failed_falls_back_to_the_vote_and_says_so() -> None:
    model = by_role({"solver": cycling("5", "5", "6"), "fuser": _raise})
    res = await compile(fusion(n=3), models=model).run("q?")
    assert res.status == "degraded" and res.answer == "5"
    assert "selection 'fuser'" in (res.error or "")


async def test_a_scorer_that_worked_for_some_candidates_is_not_degraded() -> None:
    state = {"i": 0}

    def flaky(req: ChatRequest) -> str:
        state["i"] += 1
        if state["i"] == 1:
            raise ModelUnavailable(DOWN)
        return verdict(True, 0.8)

    model = by_role({"solver": cycling("1", "2"), "verifier": flaky})
    res = await compile(best_of_n(n=2, select="verifier"), models=model).run("q?")
    assert res.status == "ok" and res.error is None


async def test_a_healthy_verifier_run_stays_ok() -> None:
    model = by_role({"solver": cycling("1", "2", "2")})
    res = await compile(best_of_n(n=3, select="verifier"), models=model).run("q?")
    assert res.status == "ok" and res.error is None


# --- nodes that can never run ------------------------------------------------------------


def test_a_critic_with_no_incoming_edge_is_refused_by_build_naming_it() -> None:
    g = Graph("lonely-critic")
    g.add(Solver(), n=2)
    g.add(Critic(), id="reviewer")
    with pytest.raises(ConfigError, match=r"node 'reviewer' \(critic\) can never run") as info:
        g.build()
    assert "no edge leads to it" in str(info.value)
    assert "add an edge to it from a solver" in str(info.value)


def test_compile_refuses_a_verifier_with_nothing_to_read() -> None:
    spec = GraphSpec.parse_data(
        {
            "nodes": [{"id": "s", "role": "solver"}, {"id": "v", "role": "verifier"}],
            "selection": {"method": "verifier"},
        }
    )
    with pytest.raises(ConfigError, match=r"node 'v' \(verifier\) can never run"):
        compile(spec, models=ScriptedModel())


def test_a_reader_fed_only_by_readers_or_by_nodes_that_never_run_is_refused() -> None:
    g = Graph()
    s = g.add(Solver())
    c = g.add(Critic())
    j = g.add(Judge())
    v = g.add(Verifier())
    g.connect(s, c)
    g.connect(c, v)  # a critique is no answer to verify
    g.connect(s, j)
    with pytest.raises(
        ConfigError, match=r"'verifier' \(verifier\) .* inputs \(critic\) give none"
    ):
        g.build()

    late = Graph()
    late.add(Solver(), id="s", first_round=3)
    late.add(Verifier(), id="v")
    late.connect("s", "v")
    with pytest.raises(ConfigError) as info:
        late.build()
    assert "node 's' can never run: it starts in round 3" in str(info.value)
    assert "node 'v' (verifier) can never run" in str(info.value)


def test_a_controller_and_fed_readers_build() -> None:
    g = Graph()
    s = g.add(Solver(), n=2)
    c = g.add(Critic())
    g.connect(s, c)
    ceo = g.add(CEO())
    g.rounds(2, controller=ceo)
    assert g.build().node("critic").role == "critic"
