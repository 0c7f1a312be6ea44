"""Sandbox test fixtures, and the session-end check that no container leaked.

Docker tests are skipped only when ``THINKTANK_SKIP_DOCKER=1``; without an engine they
fail (see :func:`thinktank.sandboxes.testing.require_docker`).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from thinktank.sandboxes import DockerSandboxConfig, Sandbox
from thinktank.sandboxes._cleanup import owner_alive, owner_id
from thinktank.sandboxes.testing import SKIP_ENV, require_docker, thinktank_containers

SESSION_START = time.time()


@pytest.fixture
def docker_required() -> None:
    """Fail (or skip with THINKTANK_SKIP_DOCKER=1) when Docker is not usable."""
    require_docker()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sibling() -> AsyncIterator[Sandbox]:
    """A healthy Docker sandbox that attacks on *other* sandboxes must not disturb."""
    require_docker()
    async with await DockerSandboxConfig().build().create() as sb:
        yield sb


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a thinktank container created during it by us (or by a process of
    ours that is gone) still exists; such leftovers are removed."""
    if os.environ.get(SKIP_ENV) == "1":
        return
    try:
        recent = thinktank_containers(created_after=SESSION_START - 1)
    except Exception:  # no engine: nothing can have leaked
        return
    # ours, or left by a process that is gone (our subprocesses); another live process's
    # sandboxes (a parallel test run) are not ours to judge
    me = owner_id()
    leaked = [c for c in recent if c["owner"] == me or owner_alive(c["owner"]) is False]
    if not leaked:
        return
    from thinktank.sandboxes import docker_client
    from thinktank.sandboxes._cleanup import remove_container

    names = ", ".join(f"{c['name']} ({c['state']}, owner {c['owner']})" for c in leaked)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"LEAK: {len(leaked)} thinktank container(s) left after the tests: {names}", red=True
        )
    for c in leaked:
        remove_container(docker_client(), c["id"])
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
