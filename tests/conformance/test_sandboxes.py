"""The sandbox conformance suite over every backend: Docker, local, and a warm pool of
Docker sandboxes. The fixtures live here (not in a conftest) so other parts' conformance
suites in this folder keep their own names."""

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
from thinktank.sandboxes.conformance import SandboxConformance
from thinktank.sandboxes.testing import require_docker

pytestmark = pytest.mark.asyncio(loop_scope="session")

BACKENDS = [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("local"),
    pytest.param("pool", marks=pytest.mark.docker),
]


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def sandbox_provider(request: pytest.FixtureRequest) -> AsyncIterator[SandboxProvider]:
    """One provider per backend."""
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
async def sandbox(sandbox_provider: SandboxProvider) -> AsyncIterator[Sandbox]:
    """A sandbox shared by the tests of one backend (they use unique paths)."""
    async with sandbox_provider.sandbox() as sb:
        yield sb


class TestSandboxConformance(SandboxConformance):
    """:class:`SandboxConformance` with the fixtures above."""
