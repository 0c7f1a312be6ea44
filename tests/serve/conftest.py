"""A ``thinktank serve`` on loopback, in this process, over the simulator's synthetic
task model; the clients under test are real (the ``openai`` SDK, LangChain, httpx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet
from thinktank.serve import GraphRegistry, ServeConfig, ServeServer

KEY = "test-key"
GRAPHS = {"bo4": "best_of_n:n=4", "single": "single"}


@pytest.fixture(scope="package")
def sim() -> Iterator[tuple[SimulatorServer, TaskSet]]:
    tasks = TaskSet.generate(6, seed=5, p_correct=[0.9, 0.6])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        yield server, tasks


@pytest.fixture(scope="package")
def served(sim: tuple[SimulatorServer, TaskSet]) -> Iterator[ServeServer]:
    """Two graphs (``bo4``: best-of-4 voting, ``single``) behind a bearer key, the
    simulator priced so dollar budgets bind."""
    set_price("sim", input=2.5, output=10.0)
    registry = GraphRegistry.build(GRAPHS, models=f"openai:sim@{sim[0].base_url}")
    try:
        with ServeServer(registry, ServeConfig(port=0, api_key=KEY)) as server:
            yield server
    finally:
        reset_prices()


@pytest.fixture
def questions(sim: tuple[SimulatorServer, TaskSet]) -> list[Any]:
    return sim[1].questions


def fetch_run(server: ServeServer, rid: str) -> dict[str, Any]:
    """The served run ``rid`` as stored (``GET /v1/thinktank/runs/{rid}``)."""
    resp = httpx.get(
        f"{server.base_url}/thinktank/runs/{rid}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def check_usage(usage: dict[str, int], run: dict[str, Any]) -> None:
    """The reply's usage is the run's: its ledger's totals, the sum of every sample's."""
    totals = run["result"]["usage"]["totals"]
    outputs = run["result"]["trace"]["outputs"]
    assert usage["prompt_tokens"] == totals["prompt_tokens"] > 0
    assert usage["completion_tokens"] == totals["completion_tokens"] > 0
    assert usage["total_tokens"] == totals["prompt_tokens"] + totals["completion_tokens"]
    assert usage["prompt_tokens"] == sum(o["usage"].get("prompt_tokens", 0) for o in outputs)
    assert usage["completion_tokens"] == sum(
        o["usage"].get("completion_tokens", 0) for o in outputs
    )
