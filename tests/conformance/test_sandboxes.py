"""The sandbox conformance suite over every backend (Docker, local, pooled Docker)."""

from __future__ import annotations

import pytest

from thinktank.sandboxes.conformance import SandboxConformance

pytestmark = pytest.mark.asyncio(loop_scope="session")


class TestSandboxConformance(SandboxConformance):
    """Runs :class:`SandboxConformance` with the ``provider``/``sandbox`` fixtures of conftest."""
