"""Test-wide guards.

No test may open a network connection to anything but loopback (or a Unix socket,
which is how the Docker engine is reached). The guard wraps ``socket.connect`` so a
bug can never send a packet off this machine, and sets ``THINKTANK_LOOPBACK_ONLY``
so thinktank's own model clients refuse non-loopback endpoints up front.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["THINKTANK_LOOPBACK_ONLY"] = "1"
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "THINKTANK_MODEL", "THINKTANK_BASE_URL"):
    os.environ.pop(_var, None)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkGuardError(RuntimeError):
    """A test tried to reach a non-loopback address."""


def _check(sock: socket.socket, address: object) -> None:
    if sock.family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) else address
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError as exc:
        raise NetworkGuardError(f"tests may only connect to loopback IPs, not {host!r}") from exc
    if not ip.is_loopback and not (
        isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback
    ):
        raise NetworkGuardError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The embedded model's server (llama.cpp + SmolLM2), started once for the session in
    a temporary state directory, so ``local:smollm2`` anywhere in the tests reuses it;
    stopped at the end, and its process must be gone."""
    from thinktank.llm import _process, local

    mp = pytest.MonkeyPatch()
    mp.setenv("THINKTANK_LOCAL_DIR", str(tmp_path_factory.mktemp("local")))
    srv = local.ensure_local_server()
    yield srv
    local.stop_local_server()
    mp.undo()
    assert not _process.pid_alive(srv.pid or 0)
