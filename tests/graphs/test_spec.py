"""GraphSpec: JSON/YAML round trips of every topology, and every validation error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thinktank.errors import ConfigError
from thinktank.graphs import GraphSpec, compile
from thinktank.graphs.topologies import TOPOLOGIES, topology

from .helpers import by_role


@pytest.mark.parametrize("name", [*TOPOLOGIES, "debate:m=3,r=3 + ceo:critics=2 + mav:k=2"])
def test_json_and_yaml_round_trip(name: str, tmp_path: Path) -> None:
    spec = topology(name)
    assert GraphSpec.parse_data(json.loads(spec.model_dump_json())) == spec
    assert GraphSpec.from_yaml(spec.to_yaml()) == spec
    for suffix in (".json", ".yaml"):
        path = tmp_path / f"g{suffix}"
        spec.save(path)
        assert GraphSpec.load(path) == spec


def _spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "g",
        "nodes": [{"id": "s", "role": "solver", "n": 2}, {"id": "v", "role": "verifier"}],
        "edges": [{"source": "s", "target": "v"}],
        "selection": {"method": "verifier"},
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"edges": [{"source": "s", "target": "w"}]}, "dangling edge s -> w: no node 'w'"),
        (
            {"nodes": [{"id": "s", "role": "solver"}, {"id": "v", "role": "oracle"}]},
            "unknown role 'oracle'; valid roles: aggregator, ceo, critic",
        ),
        (
            {"edges": [{"source": "s", "target": "v"}, {"source": "v", "target": "s"}]},
            "the same-round edges form a cycle",
        ),
        (
            {
                "edges": [
                    {"source": "s", "target": "v"},
                    {"source": "v", "target": "s", "feedback": True},
                ]
            },
            "needs rounds.max_rounds >= 2",
        ),
        (
            {
                "nodes": [{"id": "v", "role": "verifier"}],
                "edges": [],
                "selection": {"method": "vote"},
            },
            "the selection step has no candidates",
        ),
        ({"selection": {"method": "judge"}}, "selection method 'judge' needs a judge node"),
        (
            {"selection": {"method": "vote", "candidates": ["x"]}},
            "selection candidate 'x' is not a node",
        ),
        (
            {"rounds": {"max_rounds": 2, "controller": "boss"}},
            "rounds.controller 'boss' is not a node",
        ),
        ({"rounds": {"max_rounds": 2, "controller": "v"}}, "must have role 'ceo'"),
        (
            {"nodes": [{"id": "s", "role": "solver"}, {"id": "s", "role": "verifier"}]},
            "duplicate node ids: ['s']",
        ),
        (
            {
                "nodes": [
                    {"id": "select", "role": "solver"},
                    {"id": "s", "role": "solver"},
                    {"id": "v", "role": "verifier"},
                ]
            },
            "are reserved",
        ),
        ({"selection": {"method": "telepathy"}}, "selection.method"),
        ({"nodes": [{"id": "s", "role": "solver", "n": 0}]}, "nodes.0.n"),
        ({"nodes": [{"id": "s", "role": "solver", "size": 3}]}, "Extra inputs are not permitted"),
    ],
)
def test_validation_errors_say_what_is_wrong(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        GraphSpec.parse_data(_spec(**changes))
    assert message in str(info.value)


def test_valid_cycle_with_a_round_limit() -> None:
    spec = GraphSpec.parse_data(
        _spec(
            edges=[
                {"source": "s", "target": "v"},
                {"source": "v", "target": "s", "feedback": True},
            ],
            rounds={"max_rounds": 3},
        )
    )
    assert spec.order() == ["s", "v"]


def test_unknown_model_alias_is_caught_at_compile_time() -> None:
    spec = topology("model_switch")  # aliases cheap and strong
    with pytest.raises(ConfigError, match="unknown model alias 'strong'; known aliases: cheap"):
        compile(spec, models={"cheap": by_role({})})
    compile(spec, models={"cheap": by_role({}), "strong": by_role({})})  # fine


def test_every_problem_is_reported_at_once() -> None:
    data = _spec(
        nodes=[{"id": "s", "role": "sage"}, {"id": "v", "role": "verifier"}],
        edges=[{"source": "s", "target": "q"}],
    )
    with pytest.raises(ConfigError) as info:
        GraphSpec.parse_data(data)
    assert "unknown role 'sage'" in str(info.value) and "dangling edge" in str(info.value)
