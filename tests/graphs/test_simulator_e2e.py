"""Every topology end to end against the simulator (OpenAI-compatible HTTP, synthetic tasks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from thinktank.graphs import compile
from thinktank.graphs.topologies import TOPOLOGIES, topology
from thinktank.llm import load_model
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
from thinktank.sandboxes import LocalSandboxConfig

STATUSES = {"ok", "budget_exhausted", "stopped_by_ceo", "max_rounds"}
SMALL = {
    "single": "single",
    "best_of_n": "best_of_n:n=4,select=verifier",
    "self_consistency": "self_consistency:n_max=8",
    "mav": "mav:n=3,k=2",
    "debate": "debate:m=3,r=2,select=judge",
    "refine": "refine:k=3,iterations=1",
    "ceo": "ceo:critics=2,rounds=2",
    "pdr": "pdr:k=3,rounds=2",
    "fusion": "fusion:n=3",
    "hybrid_verify": "hybrid_verify:n=3",
    "test_vote": "test_vote:n=3",
    "model_switch": "model_switch:n=3",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[dict[str, Any], TaskSet]]:
    tasks = TaskSet.generate(3, seed=7, p_correct=[0.95, 0.6, 0.3])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        url = server.base_url
        models = {
            "default": load_model(f"openai:sim@{url}"),
            "cheap": load_model(f"openai:sim-small@{url}"),
            "strong": load_model(f"openai:sim-large@{url}"),
        }
        yield models, tasks


def test_small_variants_cover_every_topology() -> None:
    assert set(SMALL) == set(TOPOLOGIES)


@pytest.mark.parametrize("name", [*SMALL.values(), "debate:m=2,r=2 + ceo:rounds=2 + mav:k=2"])
async def test_topology_runs_end_to_end(name: str, sim: tuple[dict[str, Any], TaskSet]) -> None:
    models, tasks = sim
    graph = compile(topology(name), models=models, sandbox=LocalSandboxConfig())
    for q in tasks.questions:
        res = await graph.run({"id": q.id, "prompt": q.question, "kind": "math"}, seed=3)
        assert res.status in STATUSES, res.error
        assert res.answer is not None
        assert res.samples >= 1 and res.usage.totals.calls >= res.samples
        assert res.latency_s > 0 and res.trace.events[-1].kind == "select"
        res.model_dump_json()  # everything a run did is serializable


async def test_easy_questions_come_out_right(sim: tuple[dict[str, Any], TaskSet]) -> None:
    models, tasks = sim
    easy = tasks.questions[0]
    for name in ("best_of_n:n=4,select=verifier", "mav:n=3,k=2", "refine:k=3"):
        res = await compile(topology(name), models=models).run(
            {"id": easy.id, "prompt": easy.question, "kind": "math"}, seed=1
        )
        assert easy.is_correct(res.answer), (name, res.answer)
