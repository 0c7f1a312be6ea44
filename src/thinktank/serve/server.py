"""Running the server: uvicorn in the foreground (``thinktank serve``) or in a background
thread (:class:`ServeServer`, for tests, notebooks and benchmarks).

The listening socket is bound before uvicorn starts, so the address (``port=0`` picks a
free one) is known at once and early clients queue instead of being refused.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from typing import Any

from thinktank.serve.app import create_app
from thinktank.serve.config import ServeConfig
from thinktank.serve.registry import GraphRegistry
from thinktank.serve.store import TraceStore


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0``: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, else asyncio skips TCP_NODELAY on accepted sockets and small
    # responses wait on delayed ACKs
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def _uvicorn(app: Any, log_level: str = "warning") -> Any:
    import uvicorn

    cfg = uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        backlog=4096,
    )
    return uvicorn.Server(cfg)


def url_of(host: str, port: int) -> str:
    """``http://HOST:PORT`` (IPv6 hosts bracketed)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ServeServer:
    """``thinktank serve`` in a daemon thread: ``with ServeServer(registry) as s: s.base_url``.

    The registry's models and the store are closed when it stops.
    """

    def __init__(
        self,
        registry: GraphRegistry,
        config: ServeConfig | None = None,
        store: TraceStore | None = None,
    ) -> None:
        self.config = config or ServeConfig(port=0)
        self.app = create_app(registry, self.config, store)
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_of(self.config.host, self.port)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ends in ``/v1``)."""
        return self.url + "/v1"

    def start(self, timeout: float = 10.0) -> ServeServer:
        if self._thread is not None:
            return self
        sock = bind_socket(self.config.host, self.config.port)
        self.port = sock.getsockname()[1]
        self._server = _uvicorn(self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"thinktank-serve-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"thinktank serve did not start on port {self.port}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._thread = None

    def __enter__(self) -> ServeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    registry: GraphRegistry,
    config: ServeConfig,
    *,
    on_ready: Any = None,
    log_level: str = "warning",
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C); ``on_ready(base_url)`` is
    called once the socket listens."""
    sock = bind_socket(config.host, config.port)
    port = sock.getsockname()[1]
    server = _uvicorn(create_app(registry, config), log_level)
    # what start-up built (modules, compiled graphs, models) lives as long as the server:
    # frozen out of the collector's full scans, which otherwise walk it on every one
    gc.collect()
    gc.freeze()
    if on_ready is not None:
        on_ready(url_of(config.host, port) + "/v1")
    server.run(sockets=[sock])
