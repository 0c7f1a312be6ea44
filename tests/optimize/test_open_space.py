"""The optimizer searches over your own roles and function nodes: on a landscape where
a declared role and a function node are best by construction, the study picks them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.optimize import open_space as O
from thinktank.agents.roles import temporary_roles
from thinktank.graphs import GraphSpec
from thinktank.optimize import RunnerObjective, SpaceError, Study, StudyConfig
from thinktank.optimize.decode import build as build_graph
from thinktank.optimize.decode import iter_assignments, nominal_calls

EXACT = "tests.optimize.open_space:exact_sum"


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    with temporary_roles():
        yield


def test_roles_are_a_dimension_and_proposals_carry_the_declared_roles() -> None:
    space = O.space().bind(["cheap"])
    assert space.node("solver").option_lists()["role"] == ["solver", "careful"]
    decoded = [build_graph(space, a) for a in iter_assignments(space)]
    specs = [d.spec for d in decoded if d.spec is not None]
    assert len(specs) == 10
    picked = {(s.node("solver").role, s.node("check").role if len(s.nodes) > 1 else None,
               s.selection.method) for s in specs}  # fmt: skip
    assert ("careful", EXACT, "verifier") in picked and ("solver", "verifier", "vote") in picked
    best = next(
        s for s in specs if s.node("solver").role == "careful" and len(s.nodes) > 1
        and s.node("check").role == EXACT and s.selection.method == "verifier"
    )  # fmt: skip
    assert [d.name for d in best.roles] == ["careful"]
    assert nominal_calls(best) == 3  # the function node calls no model
    assert "careful" in best.description and "exact_sum" in best.description
    assert GraphSpec.from_yaml(best.to_yaml()) == best


def test_a_space_with_a_bad_role_option_says_which() -> None:
    bad = O.SPACE_YAML.replace(EXACT, "tests.optimize.open_space:nope")
    with pytest.raises(SpaceError, match=r"node 'check' has unknown role 'tests\.optimize"):
        O.SearchSpace.from_yaml(bad).bind(["cheap"])
    bad = O.SPACE_YAML.replace("selection: [vote, verifier]", "selection: [vote, 'x.y:z']")
    with pytest.raises(SpaceError, match=r"cannot import 'x\.y:z'"):
        O.SearchSpace.from_yaml(bad).bind(["cheap"])


def test_a_study_on_the_simulator_picks_the_custom_role_and_the_function_node(
    tmp_path: Path,
) -> None:
    with O.simulator() as pool:
        result = Study(
            O.space(),
            O.tasks(),
            RunnerObjective(pool, environment_options=O.NO_TOOLS),
            StudyConfig(algo="grid", max_evals=None, cost_weight=O.COST_WEIGHT, concurrency=8),
            out_dir=tmp_path,
            plots=False,
        ).run_sync()
    assert result.stop_reason == "space_exhausted" and result.evaluations == 10
    best = result.best_spec
    assert best is not None
    assert best.node("solver").role == "careful", best.description
    assert best.node("check").role == EXACT and best.selection.method == "verifier"
    assert best.selection.by == "check"
    scores = {t.description: t.score or 0.0 for t in result.trials if t.score is not None}
    top = max(scores.values())
    assert sum(1 for s in scores.values() if s == top) == 1  # no tie: it is best alone
    others = [s for d, s in scores.items() if "careful" not in d]
    assert max(others) < top - 0.2  # the built-in solver is far behind
    assert "careful" in (tmp_path / "best.yaml").read_text()
