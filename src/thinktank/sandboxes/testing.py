"""Test helpers for code that uses sandboxes (imports pytest; for test suites only).

* :func:`require_docker` — skip only when ``THINKTANK_SKIP_DOCKER=1``; otherwise a
  missing engine or image *fails* the test with the fix in the message, so a machine
  that should run Docker tests never skips them silently.
* :func:`thinktank_containers` — the sandbox containers that exist now (leak checks).
* :func:`assert_healthy` — a sandbox still answers promptly and correctly.

The backend-independent conformance suite is :mod:`thinktank.sandboxes.conformance`.
"""

from __future__ import annotations

import os
import time

import pytest

from thinktank.sandboxes import _cleanup
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.errors import SandboxUnavailable

SKIP_ENV = "THINKTANK_SKIP_DOCKER"


def require_docker() -> None:
    """Skip if ``THINKTANK_SKIP_DOCKER=1``; fail clearly if the engine or image is missing."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1")
    from thinktank.sandboxes._engine import docker_client
    from thinktank.sandboxes.image import default_image, image_exists

    try:
        client = docker_client()
    except SandboxUnavailable as exc:
        pytest.fail(
            f"Docker tests need a running engine: {exc} (or set {SKIP_ENV}=1 to skip them)",
            pytrace=False,
        )
    if not image_exists(client, default_image()):
        pytest.fail(
            f"Docker tests need the sandbox image {default_image()}: run `thinktank sandbox doctor --fix` "
            f"(or set {SKIP_ENV}=1 to skip them)",
            pytrace=False,
        )


def thinktank_containers(*, created_after: float | None = None) -> list[dict[str, str]]:
    """Thinktank sandbox containers (name, state, owner), optionally only recent ones."""
    from thinktank.sandboxes._engine import docker_client

    client = docker_client()
    out = []
    for item in client.api.containers(all=True, filters={"label": _cleanup.LABEL}):
        labels = item.get("Labels") or {}
        created = float(labels.get(_cleanup.L_CREATED, 0) or 0)
        if created_after is not None and created < created_after:
            continue
        out.append(
            {
                "id": item["Id"],
                "name": item["Names"][0].lstrip("/"),
                "state": item["State"],
                "owner": labels.get(_cleanup.L_OWNER, ""),
            }
        )
    return out


async def assert_healthy(sandbox: Sandbox, *, within_s: float = 10.0) -> None:
    """The sandbox runs a shell command and Python correctly within ``within_s`` seconds."""
    start = time.monotonic()
    res = await sandbox.exec("echo ok && python3 -c 'print(6*7)'", timeout=within_s)
    took = time.monotonic() - start
    assert res.exit_code == 0 and res.stdout == "ok\n42\n", f"sibling sandbox unhealthy: {res}"
    assert took < within_s, f"sibling sandbox too slow: {took:.1f}s"
