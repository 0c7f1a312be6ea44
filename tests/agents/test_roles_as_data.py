"""Roles are data: what a role does decides how the graph treats it, aliases included."""

from __future__ import annotations

from thinktank.agents.roles import BUILT_IN, ROLES, role_does, roles_doing
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec


def test_every_role_declares_what_it_does() -> None:
    assert {n: r.does for n, r in ROLES.items() if n in BUILT_IN} == {
        "solver": "answer",
        "verifier": "score",
        "critic": "critique",
        "refiner": "refine",
        "fuser": "fuse",
        "judge": "select",
        "debater": "answer",
        "ceo": "decide",
        "aggregator": "fuse",
        "selector": "select",
    }
    assert len(BUILT_IN) == 10
    assert role_does("planner") is None


def test_answer_roles_follow_the_declarations_and_include_aliases() -> None:
    assert roles_doing("answer", "refine", "fuse") == ANSWER_ROLES
    assert {"solver", "refiner", "fuser", "debater", "aggregator"} <= ANSWER_ROLES
    assert not {"verifier", "critic", "judge", "selector", "ceo"} & ANSWER_ROLES


def test_an_alias_is_found_by_what_it_does() -> None:
    """A graph selecting with ``fuser`` finds an ``aggregator`` node, and a ``selector``
    serves ``judge`` selection: the spec reads what nodes do, not their names."""
    fused = GraphSpec.model_validate(
        {
            "name": "agg",
            "nodes": [{"id": "s", "role": "solver", "n": 2}, {"id": "a", "role": "aggregator"}],
            "edges": [{"source": "s", "target": "a"}],
            "selection": {"method": "fuser"},
        }
    )
    assert fused.node("a").does == "fuse" and "a" in fused.candidate_nodes()
    judged = GraphSpec.model_validate(
        {
            "name": "sel",
            "nodes": [{"id": "s", "role": "solver", "n": 2}, {"id": "j", "role": "selector"}],
            "edges": [{"source": "s", "target": "j"}],
            "selection": {"method": "judge"},
        }
    )
    assert judged.node("j").does == "select"
