"""Backends for the conformance suites in this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from thinktank.sandboxes import (
    DockerSandboxConfig,
    LocalSandboxConfig,
    PoolConfig,
    Sandbox,
    SandboxProvider,
)
from thinktank.sandboxes.testing import require_docker

BACKENDS = [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("local"),
    pytest.param("pool", marks=pytest.mark.docker),
]


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[SandboxProvider]:
    """One provider per backend: Docker, local, and a warm pool of Docker sandboxes."""
    kind = request.param
    if kind in ("docker", "pool"):
        require_docker()
    if kind == "docker":
        prov: SandboxProvider = DockerSandboxConfig().build()
    elif kind == "local":
        prov = LocalSandboxConfig().build()
    else:
        prov = await PoolConfig(size=2, max_size=4).build().start()
    yield prov
    await prov.aclose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandbox(provider: SandboxProvider) -> AsyncIterator[Sandbox]:
    """A sandbox shared by the tests of one backend (they use unique paths)."""
    async with provider.sandbox() as sb:
        yield sb
