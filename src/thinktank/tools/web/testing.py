"""Test doubles for the web tools (shipped, so every test suite uses the same ones).

* :class:`LoopbackOnlyBackend`: an httpcore network backend that records every
  connection attempt and refuses any to a non-loopback address, so a bug in the
  SSRF guard shows up as a recorded attempt, never as a packet leaving the machine.
* :class:`~thinktank.tools.web.ssrf.StaticResolver` (re-exported): DNS from a table.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import httpcore

from thinktank.tools.web.ssrf import StaticResolver


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """Records ``(host, port)`` of each ``connect_tcp`` and only lets loopback through."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.attempts: list[tuple[str, int]] = []
        self.refused: list[tuple[str, int]] = []

    @property
    def non_loopback_attempts(self) -> list[tuple[str, int]]:
        return list(self.refused)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        try:
            ip = ipaddress.ip_address(host)
            loopback = ip.is_loopback
        except ValueError:  # a name reached the socket layer: the guard did not pin it
            loopback = False
        if not loopback:
            self.refused.append((host, port))
            raise httpcore.ConnectError(f"test network guard: refused connection to {host}:{port}")
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.refused.append((path, 0))
        raise httpcore.ConnectError("test network guard: refused a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


__all__ = ["LoopbackOnlyBackend", "StaticResolver"]
