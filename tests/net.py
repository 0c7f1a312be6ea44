"""Loopback addresses that fail in known ways, for tests of unreachable endpoints."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port where connections are refused.

    The port stays bound (without listening) while the context is open, so no other
    process can start listening on it in the meantime.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port where a connection attempt hangs until the client's connect timeout.

    A listening socket whose accept queue is full: Linux drops further SYNs, as a
    firewall that drops packets would.
    """
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(socket.socket())
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        for _ in range(4):  # more than the queue holds
            c = stack.enter_context(socket.socket())
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect(("127.0.0.1", port))
        yield port
