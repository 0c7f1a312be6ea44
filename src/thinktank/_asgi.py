"""Serving an ASGI app on loopback from a thread: the simulator and ``thinktank serve``
both run uvicorn this way (tests, benches, in-process servers)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (``port=0`` picks a free one).

    Listening before the server runs means early clients queue instead of being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, else asyncio skips TCP_NODELAY on accepted sockets
    # and every response waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


class ThreadedServer:
    """A uvicorn ``Server`` running on ``sock`` in a daemon thread until :meth:`stop`."""

    def __init__(self, server: Any, sock: socket.socket, name: str) -> None:
        self.server = server
        self.port: int = sock.getsockname()[1]
        self.thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-{self.port}", daemon=True
        )

    def start(self, what: str, timeout: float = 10.0) -> ThreadedServer:
        """Start and wait until it serves; ``RuntimeError`` naming ``what`` if it cannot."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start on port {self.port}")
            time.sleep(0.005)
        return self

    def stop(self, *, force: bool = False, timeout: float = 15.0) -> None:
        """Ask it to exit (``force``: without waiting for requests in flight) and join."""
        self.server.should_exit = True
        if force:
            self.server.force_exit = True
        self.thread.join(timeout=timeout)
