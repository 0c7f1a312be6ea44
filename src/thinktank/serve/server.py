"""Running the server: uvicorn in the foreground (``thinktank serve``) or in a background
thread (:class:`ServeServer`, for tests, notebooks and benchmarks).

The listening socket is bound before uvicorn starts, so the address (``port=0`` picks a
free one) is known at once and early clients queue instead of being refused.
"""

from __future__ import annotations

import gc
from typing import Any

from thinktank._asgi import ThreadedServer, bind_socket
from thinktank.serve.app import create_app
from thinktank.serve.config import ServeConfig
from thinktank.serve.registry import GraphRegistry
from thinktank.serve.store import TraceStore


def _uvicorn(app: Any, config: ServeConfig, log_level: str = "warning") -> Any:
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
        timeout_keep_alive=config.idle_timeout_s,
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
        self._thread: ThreadedServer | None = None

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
        self._thread = ThreadedServer(_uvicorn(self.app, self.config), sock, "thinktank-serve")
        self.port = self._thread.port
        self._thread.start("thinktank serve", timeout)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._thread.stop()
        self._thread = None

    def __enter__(self) -> ServeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tune_collector(threshold: int) -> None:
    """The garbage collector of a process that serves: what start-up built (modules,
    compiled graphs, models) lives as long as the server, so it is frozen out of the
    collector's full scans (which would walk it every time); a first-generation
    ``threshold`` (0: left as it is) sets how many new objects start a collection."""
    gc.collect()
    gc.freeze()
    if threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)


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
    server = _uvicorn(create_app(registry, config), config, log_level)
    tune_collector(config.gc_threshold)
    if on_ready is not None:
        on_ready(url_of(config.host, port) + "/v1")
    server.run(sockets=[sock])
