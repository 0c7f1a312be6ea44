"""self_consistency: adaptive stopping stops early on easy items and not on hard ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from thinktank.graphs import compile
from thinktank.graphs.topologies import self_consistency
from thinktank.llm import load_model
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet

from .helpers import by_role, cycling


async def test_easy_item_stops_after_min_samples() -> None:
    model = by_role({"solver": "Answer: 5"})
    res = await compile(self_consistency(n_max=16, wave=2, min_samples=4), models=model).run("q?")
    assert res.answer == "5" and res.samples == 4
    waves = [e for e in res.trace.events if e.kind == "wave"]
    assert len(waves) == 1  # 2 + 2, then settled
    assert res.trace.events[-2].kind == "round_end"


async def test_hard_item_uses_the_whole_budget() -> None:
    model = by_role({"solver": cycling("1", "2", "3", "4")})
    res = await compile(self_consistency(n_max=16), models=model).run("q?")
    assert res.samples == 16
    assert any(e.kind == "settled" and e.samples == 16 for e in res.trace.events)


@pytest.mark.parametrize("rule", ["posterior", "predictive", "margin"])
async def test_every_rule_stops_early_on_agreement(rule: str) -> None:
    model = by_role({"solver": "Answer: 5"})
    spec = self_consistency(n_max=16, wave=4, min_samples=4, rule=rule)
    res = await compile(spec, models=model).run("q?")
    assert res.samples == 4


async def test_non_adaptive_draws_all_samples() -> None:
    model = by_role({"solver": "Answer: 5"})
    res = await compile(self_consistency(n_max=6, adaptive=False), models=model).run("q?")
    assert res.samples == 6


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimulatorServer, TaskSet]]:
    easy = TaskSet.generate(6, seed=3, p_correct=0.97, id_prefix="easy")
    hard = TaskSet.generate(6, seed=4, p_correct=0.3, id_prefix="hard")
    tasks = TaskSet(questions=[*easy.questions, *hard.questions])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        yield server, tasks


async def test_on_the_simulator_easy_items_cost_fewer_samples(
    sim: tuple[SimulatorServer, TaskSet],
) -> None:
    server, tasks = sim
    g = compile(self_consistency(n_max=16), models=load_model("openai:sim@" + server.base_url))
    used: dict[str, list[int]] = {"easy": [], "hard": []}
    for q in tasks.questions:
        res = await g.run({"id": q.id, "prompt": q.question, "kind": "math"}, seed=1)
        used[q.id[:4]].append(res.samples)
    assert max(used["easy"]) <= 6  # settled after the first waves
    assert sum(used["hard"]) / len(used["hard"]) >= 12  # contested: (nearly) the whole budget
