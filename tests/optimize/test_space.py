"""The search space: YAML, binding to a model pool, decoding points into valid graphs."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from thinktank.graphs.spec import GraphSpec
from thinktank.optimize import (
    RandomChooser,
    ReplayChooser,
    SearchSpace,
    SpaceError,
    assign,
    build,
    iter_assignments,
    nominal_calls,
)

RICH = """
name: rich
nodes:
  - {id: solver, role: solver, n: [1, 4, 8], temperature: [0.7, 1.0], memory: [false, true]}
  - {id: verifier, role: verifier, present: [false, true], copies: [1, 2],
     aspects: ["the arithmetic", "the units"]}
  - {id: critic, role: critic, present: [false, true]}
  - {id: refiner, role: refiner, present: [false, true]}
  - {id: judge, role: judge, present: [false, true]}
  - {id: ceo, role: ceo, present: [false, true]}
edges:
  - {source: solver, target: verifier, optional: false}
  - {source: solver, target: judge, optional: false}
  - {source: solver, target: critic}
  - {source: critic, target: refiner}
  - {source: solver, target: refiner}
  - {source: refiner, target: critic}
  - {source: critic, target: solver, feedback: true}
selection: [vote, verifier, mav, judge, ceo]
rounds: [1, 2, 3]
constraints: {max_calls_per_task: 60}
"""


def rich() -> SearchSpace:
    return SearchSpace.from_yaml(RICH).bind(["small", "large"])


def test_yaml_round_trip() -> None:
    space = SearchSpace.from_yaml(RICH)
    assert SearchSpace.from_yaml(space.to_yaml()) == space


def test_every_sampled_point_is_a_valid_graph_or_rejected_with_a_reason() -> None:
    space = rich()
    rng = random.Random(0)
    reasons: Counter[str] = Counter()
    valid = 0
    for _ in range(400):
        d = build(space, assign(space, RandomChooser(rng)))
        if d.spec is None:
            assert d.reason
            reasons[d.reason.split(":")[0]] += 1
            continue
        valid += 1
        assert GraphSpec.parse_data(d.spec.model_dump()).problems() == []
        assert nominal_calls(d.spec) <= 60
        assert d.spec.budget.max_calls == 60
        # cycle-safe: the same-round edges never form a cycle
        assert d.spec.order() and len(d.spec.order()) == len(d.spec.nodes)
        if d.spec.selection.method in ("verifier", "mav"):
            assert any(n.role == "verifier" for n in d.spec.nodes)
    assert valid > 100
    assert reasons  # some points break a rule, and each says which


def test_optional_cycles_are_skipped_when_sampling() -> None:
    space = rich()
    for a in iter_assignments(space, limit=3000):
        on = {k for k, v in a.values.items() if k.startswith("edge:") and v}
        assert not {"edge:critic->refiner", "edge:refiner->critic"} <= on


def test_copies_get_their_aspects_and_a_selection_role_is_switched_on() -> None:
    space = rich()
    d = build(
        space,
        assign(
            space,
            ReplayChooser({"selection": "mav", "verifier.copies": 2, "solver.n": 4, "rounds": 1}),
        ),
    )
    assert d.spec is not None, d.reason
    verifiers = [n for n in d.spec.nodes if n.role == "verifier"]
    assert [v.aspect for v in verifiers] == ["the arithmetic", "the units"]
    assert {(e.source, e.target) for e in d.spec.edges} >= {
        ("solver", "verifier"),
        ("solver", "verifier2"),
    }
    assert "verifier is on because selection is 'mav'" in d.assignment.notes


def test_enumeration_visits_each_point_once() -> None:
    space = SearchSpace.from_yaml(
        """
nodes:
  - {id: s, role: solver, n: [1, 2, 3]}
  - {id: v, role: verifier, present: [false, true]}
edges: [{source: s, target: v}]
selection: [vote, verifier]
"""
    ).bind(["a", "b"])
    points = [tuple(sorted(a.params.items())) for a in iter_assignments(space)]
    assert len(points) == len(set(points))
    # 6 solvers (3 n x 2 models); vote: v off, or on (x2 edge x2 models); verifier: v forced on
    assert len(points) == 6 + 6 * 4 + 6 * 4


def test_unknown_model_alias_lists_the_pool() -> None:
    space = SearchSpace.from_yaml("nodes: [{id: s, role: solver, model: [small, xl]}]")
    with pytest.raises(SpaceError, match=r"unknown model\(s\) \['xl'\]; the model pool has: small"):
        space.bind(["small"])


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("nodes: []", "no nodes"),
        ("nodes: [{id: s, role: solver, n: []}]", "n has no options"),
        ("nodes: [{id: s, role: wizard}]", "unknown role 'wizard'"),
        ("nodes: [{id: v, role: verifier}]", "no answer-producing node"),
        ("nodes: [{id: s, role: solver}]\nselection: [judge]", "no node has role 'judge'"),
        (
            "nodes: [{id: s, role: solver}, {id: c, role: critic}]\n"
            "edges: [{source: c, target: s, feedback: true, optional: false}]",
            "feedback edge (always on), but rounds offers only [1]",
        ),
        ("nodes: [{id: s, role: solver}]\nedges: [{source: s, target: x}]", "no node 'x'"),
        ("nodes: [{id: s, role: solver, n: [0, 300]}]", "outside 1..256"),
    ],
)
def test_empty_or_contradictory_spaces_say_which_rule(yaml_text: str, message: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(message)):
        SearchSpace.from_yaml(yaml_text).bind(["m"])


def test_bad_yaml_and_unknown_fields() -> None:
    with pytest.raises(SpaceError, match="not valid YAML"):
        SearchSpace.from_yaml("nodes: [")
    with pytest.raises(SpaceError, match="Extra inputs are not permitted"):
        SearchSpace.from_yaml("nodes: [{id: s, role: solver, samples: [2]}]")


def test_a_debate_space_with_a_judge_and_a_coordinator() -> None:
    space = SearchSpace.from_yaml(
        """
nodes:
  - {id: debater, role: debater, n: [2, 3]}
  - {id: judge, role: judge, present: [false, true]}
  - {id: ceo, role: ceo, present: [false, true]}
edges:
  - {source: debater, target: debater, feedback: true, optional: false}
  - {source: debater, target: judge, optional: false}
selection: [vote, judge]
rounds: [2, 3]
"""
    ).bind(["m"])
    specs = [d.spec for a in iter_assignments(space) if (d := build(space, a)).spec]
    assert len(specs) == 2 * 2 * (2 * 2 + 2)  # n x rounds x (vote: judge on/off x ceo, judge x ceo)
    for spec in specs:
        judge = [n for n in spec.nodes if n.role == "judge"]
        ceo = spec.rounds.controller
        if judge and ceo is None:  # a fixed round count: the judge reads the last round only
            assert judge[0].first_round == spec.rounds.max_rounds
        if ceo is not None:
            assert spec.node(ceo).role == "ceo"
