"""The registry, topology strings, and composition (a CEO over debaters with MAV selection)."""

from __future__ import annotations

import json

import pytest

from thinktank.errors import ConfigError
from thinktank.graphs import compile
from thinktank.graphs.topologies import (
    TOPOLOGIES,
    debate,
    parse,
    topology,
    with_ceo,
    with_judge,
    with_mav,
)
from thinktank.llm.types import ChatRequest

from .helpers import by_role, candidate_answer, cycling, outputs_of, verdict

TWELVE = [
    "single", "best_of_n", "self_consistency", "mav", "debate", "refine",
    "ceo", "pdr", "fusion", "hybrid_verify", "test_vote", "model_switch",
]  # fmt: skip


def test_registry_holds_the_twelve_and_each_cites_its_method() -> None:
    assert list(TOPOLOGIES) == TWELVE
    for name, fn in TOPOLOGIES.items():
        spec = fn()
        assert spec.metadata["topology"] == name
        module_doc = __import__(fn.__module__, fromlist=["_"]).__doc__ or ""
        assert len(module_doc) > 150 and fn.__doc__


def test_parse_reads_yaml_scalars_and_lists() -> None:
    name, params = parse("best_of_n:n=8,select=verifier,temperature=0.5")
    assert (name, params) == ("best_of_n", {"n": 8, "select": "verifier", "temperature": 0.5})
    assert parse("model_switch:models=[a,b],n=2")[1] == {"models": ["a", "b"], "n": 2}
    assert parse("model_switch:models=a|b|c")[1] == {"models": ["a", "b", "c"]}
    assert parse("debate:stop_on_agreement=null")[1] == {"stop_on_agreement": None}


def test_topology_string_equals_the_function_call() -> None:
    assert topology("best_of_n:n=8,select=verifier") == TOPOLOGIES["best_of_n"](
        n=8, select="verifier"
    )
    assert topology("debate:m=3", r=4) == debate(m=3, r=4)  # overrides win


def test_unknown_names_and_parameters_list_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid topologies: single, best_of_n"):
        topology("best_of_m")
    with pytest.raises(ConfigError, match=r"no parameter\(s\) k; accepted: n, select, m"):
        topology("best_of_n:k=3")
    with pytest.raises(ConfigError, match="valid layers: ceo, mav"):
        topology("debate + boss")
    with pytest.raises(ConfigError, match="is not one of: vote, verifier, judge"):
        topology("best_of_n:select=magic")
    with pytest.raises(ConfigError, match="write key=value"):
        topology("best_of_n:8")


def test_layers_compose_in_python_and_in_strings() -> None:
    by_hand = with_mav(with_ceo(debate(m=3, r=3), rounds=3), k=2)
    from_text = topology("debate:m=3,r=3 + ceo:rounds=3 + mav:k=2")
    assert by_hand == from_text
    assert by_hand.rounds.controller == "ceo" and by_hand.selection.method == "mav"
    assert by_hand.metadata["layers"] == ["ceo", "mav"]
    # with a controller the end round is unknown: verifiers run every round
    assert {n.first_round for n in by_hand.nodes if n.role == "verifier"} == {1}
    # without one they run only in the final round
    assert {n.first_round for n in with_judge(debate(m=2, r=3)).nodes if n.role == "judge"} == {3}
    with pytest.raises(ConfigError, match="already has a controller"):
        with_ceo(by_hand)


async def test_ceo_over_debaters_with_mav_selection_runs() -> None:
    rounds_seen: list[int] = []

    def ceo_reply(req: ChatRequest) -> str:
        rounds_seen.append(len(rounds_seen) + 1)
        action = "stop" if len(rounds_seen) == 2 else "continue"
        return json.dumps({"action": action, "direction": "compare the sums"})

    model = by_role(
        {
            "debater": cycling("8", "9", "9"),  # the majority (9) is wrong
            "verifier": lambda req: verdict(candidate_answer(req) == "8"),
            "ceo": ceo_reply,
        }
    )
    spec = topology("debate:m=3,r=4 + ceo:rounds=4 + mav:k=3")
    res = await compile(spec, models=model).run("q?")
    assert res.status == "stopped_by_ceo" and res.rounds == 2
    assert res.answer == "8"  # the verifiers' choice, not the debaters' majority
    assert [len(outputs_of(res, "debater", r)) for r in (1, 2, 3)] == [3, 3, 0]
    assert len(outputs_of(res, "aspect1", 2)) == 3  # every round's answers were verified
    assert res.selection is not None and res.selection.method == "mav"


async def test_verifiers_layered_on_refine_check_each_candidate_once() -> None:
    model = by_role(
        {
            "solver": cycling("1", "2", "3"),
            "refiner": "Answer: 7",
            "verifier": lambda req: verdict(candidate_answer(req) == "7"),
        }
    )
    res = await compile(topology("refine:k=3 + mav:k=2"), models=model).run("q?")
    targets = [o.target for o in outputs_of(res, "aspect1")]
    assert len(targets) == len(set(targets)) == 6  # 3 samples in round 1, 3 refinements in round 2
    assert res.answer == "7"
