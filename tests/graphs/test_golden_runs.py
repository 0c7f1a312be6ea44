"""Golden runs: every topology on the simulator with fixed seeds gives the recorded
answers, candidates, statuses, call counts, tokens and costs.

Refactors of the compiler, scheduler, selection or agents must leave these identical.
After an intended change of behaviour, regenerate the file and review its diff:

    THINKTANK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/graphs/test_golden_runs.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.graphs import compile
from thinktank.graphs.topologies import TOPOLOGIES, topology
from thinktank.llm import load_model
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
from thinktank.sandboxes import LocalSandboxConfig

GOLDEN = Path(__file__).parent / "golden" / "topologies.json"
UPDATE = os.environ.get("THINKTANK_UPDATE_GOLDEN") == "1"

GRAPHS = [
    "single",
    "best_of_n:n=4,select=verifier",
    "best_of_n:n=5",
    "self_consistency:n_max=8",
    "mav:n=3,k=2",
    "debate:m=3,r=2,select=judge",
    "refine:k=3,iterations=1",
    "ceo:critics=2,rounds=2",
    "pdr:k=3,rounds=2",
    "fusion:n=3",
    "hybrid_verify:n=3",
    "test_vote:n=3",
    "model_switch:n=3",
    "debate:m=2,r=2 + ceo:rounds=2 + mav:k=2",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[dict[str, Any], TaskSet]]:
    tasks = TaskSet.generate(3, seed=11, p_correct=[0.9, 0.55, 0.25])
    # the simulator as the golden records were made: SyntheticConfig.idealised (independent
    # verifier errors, even wrong answers, prompt-independent draws, roles as fresh solvers)
    config = SimulatorConfig(synthetic=SyntheticConfig.idealised(tasks=tasks))
    with SimulatorServer(config) as server:
        url = server.base_url
        models = {
            "default": load_model(f"openai:sim@{url}"),
            "cheap": load_model(f"openai:sim-small@{url}"),
            "strong": load_model(f"openai:sim-large@{url}"),
        }
        for name, price in (("sim", 2.5), ("sim-small", 0.5), ("sim-large", 5.0)):
            set_price(name, input=price, output=4 * price)
        try:
            yield models, tasks
        finally:
            reset_prices()


def test_the_golden_graphs_cover_every_topology() -> None:
    assert {g.split(":")[0] for g in GRAPHS} >= set(TOPOLOGIES)


async def _record(graph: str, models: dict[str, Any], tasks: TaskSet) -> list[dict[str, Any]]:
    compiled = compile(topology(graph), models=models, sandbox=LocalSandboxConfig())
    out = []
    for q in tasks.questions:
        res = await compiled.run({"id": q.id, "prompt": q.question, "kind": "math"}, seed=5)
        totals = res.usage.totals
        out.append(
            {
                "task": q.id,
                "status": res.status,
                "answer": res.answer,
                "candidates": sorted(str(c.answer) for c in res.candidates),
                "winner": res.selection.winner if res.selection else None,
                "rounds": res.rounds,
                "samples": res.samples,
                "calls": totals.calls,
                "prompt_tokens": totals.prompt_tokens,
                "completion_tokens": totals.completion_tokens,
                "cost": round(res.cost, 10),
                "outputs": sorted(o.id for o in res.trace.outputs),
            }
        )
    return out


async def test_every_topology_gives_its_golden_record(
    sim: tuple[dict[str, Any], TaskSet],
) -> None:
    models, tasks = sim
    got = {g: await _record(g, models, tasks) for g in GRAPHS}
    if UPDATE or not GOLDEN.exists():
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        if not UPDATE:
            pytest.fail(f"{GOLDEN} did not exist; written now: review and commit it")
    want = json.loads(GOLDEN.read_text())
    assert set(got) == set(want)
    for g in GRAPHS:
        for a, b in zip(got[g], want[g], strict=True):
            assert a == b, f"{g} on {a['task']} changed"
