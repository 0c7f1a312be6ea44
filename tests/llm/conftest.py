"""Shared fixtures of the llm tests: simulator servers and raw OpenAI clients for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from thinktank.llm.simulator import SimulatorConfig, SimulatorServer


@pytest.fixture
def simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """Factory: ``sim = simulator(config)`` or ``simulator(seed=1, script=[...])``.

    Starts an in-process simulator on a free loopback port; every server started
    through the factory is stopped when the test ends.
    """
    started: list[SimulatorServer] = []

    def make(config: SimulatorConfig | None = None, **fields: Any) -> SimulatorServer:
        sim = SimulatorServer(config or SimulatorConfig.model_validate(fields)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
async def openai_client() -> AsyncIterator[Callable[..., AsyncOpenAI]]:
    """Factory: a raw ``AsyncOpenAI`` for a simulator (SDK retries off, injected httpx client).

    ``openai_client(sim, timeout=1.0)``; clients are closed when the test ends.
    """
    clients: list[httpx.AsyncClient] = []

    def make(
        sim: SimulatorServer, *, timeout: float = 30.0, api_key: str = "sk-test"
    ) -> AsyncOpenAI:
        http = httpx.AsyncClient(
            trust_env=False,
            timeout=timeout,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
        )
        clients.append(http)
        return AsyncOpenAI(
            base_url=sim.base_url, api_key=api_key, http_client=http, max_retries=0, timeout=timeout
        )

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain ``httpx.AsyncClient`` for raw requests (no proxies from the environment)."""
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        yield client
