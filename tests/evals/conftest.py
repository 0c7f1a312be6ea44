"""Fixtures of the eval tests: one real Ray cluster on loopback for the whole session."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A private two-CPU Ray cluster on loopback with two ``docker`` units, started once
    (a Ray start takes seconds) and shared by every ``ray`` test; yields the module."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the `ray` extra is not installed")
    from thinktank.cluster.connect import start_local

    cluster = start_local(num_cpus=2, docker=2)  # binds loopback only, no usage reports
    import ray

    try:
        yield ray
    finally:
        cluster.shutdown()
