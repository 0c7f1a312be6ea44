"""Fixtures of the eval tests: one real Ray cluster on loopback for the whole session."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A private two-CPU Ray cluster on loopback with two ``docker`` units, started once
    (a Ray start takes seconds) and shared by every ``ray`` test; yields the module."""
    if importlib.util.find_spec("ray") is None:
        # `make test` installs the extra, so a missing Ray is a broken install, not a skip
        if os.environ.get("THINKTANK_SKIP_RAY") == "1":
            pytest.skip("THINKTANK_SKIP_RAY=1")
        pytest.fail(
            "the Ray tests need the `ray` extra: run `make setup` (or set THINKTANK_SKIP_RAY=1)",
            pytrace=False,
        )
    from thinktank.cluster.connect import start_local

    cluster = start_local(num_cpus=2, docker=2)  # binds loopback only, no usage reports
    import ray

    try:
        yield ray
    finally:
        cluster.shutdown()
