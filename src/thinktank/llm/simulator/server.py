"""Running the simulator: in a background thread, in a subprocess, or in the foreground.

* :class:`SimulatorServer` — uvicorn in a daemon thread of this process (cheap to
  start; shares the GIL with the caller).
* :class:`SimulatorProcess` — the same server in a child Python process (for
  benchmarks: the server gets its own core). The parent binds the port and hands
  the listening socket down, so the address is known before the child starts.
* :func:`serve_forever` — the foreground server of ``thinktank models simulate``.

Each serves with uvicorn + Starlette, or with ``SimulatorConfig(http="lean")`` with the
minimal server of :mod:`~thinktank.llm.simulator.lean` (a small part of the CPU per request).

Both handles share one interface: ``start()``/``stop()``, context managers,
``base_url`` (``http://127.0.0.1:<port>/v1``), ``stats()``, ``reset()``,
``set_script()``. uvicorn picks httptools / uvloop when they are installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from thinktank._asgi import ThreadedServer, bind_socket
from thinktank.llm.simulator.config import SimulatorConfig

if TYPE_CHECKING:
    from thinktank.llm.base import ChatModel


def _make_server(config: SimulatorConfig) -> tuple[Any, Any]:
    """The HTTP server of ``config.http`` (uvicorn + Starlette, or the lean one) and its engine."""
    from thinktank.llm.simulator.engine import SimulatorEngine

    engine = SimulatorEngine(config)
    if config.http == "lean":
        from thinktank.llm.simulator.lean import LeanServer

        return LeanServer(engine), engine

    import uvicorn

    from thinktank.llm.simulator.app import create_app, install_log_filter

    install_log_filter()
    app = create_app(engine)
    ucfg = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=1,
        proxy_headers=False,
        backlog=4096,
    )
    return uvicorn.Server(ucfg), engine


class _Handle:
    """What both runners share: addresses and the test endpoints."""

    config: SimulatorConfig
    port: int = 0

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8123``."""
        host = self.config.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (ends in ``/v1``)."""
        return self.url + "/v1"

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            resp = client.request(method, self.url + path, json=json)
            resp.raise_for_status()
            return resp.json()

    def stats(self) -> dict[str, Any]:
        """Counters: ``requests``, ``max_in_flight``, ``per_model``, ``faults``, ``roles``, …,
        arrival and reply times and the server's CPU seconds (see ``SimulatorEngine.stats``)."""
        return dict(self._request("GET", "/stats"))

    def reset(self) -> None:
        """Zero counters, rewind scripts, reseed (live in-flight gauges are kept)."""
        self._request("POST", "/reset")

    def set_script(
        self, script: list[Any] | None = None, fault_script: list[Any] | None = None
    ) -> None:
        """Replace the reply script and/or the fault script (each item as in the config)."""
        self._request("POST", "/script", {"script": script, "fault_script": fault_script})

    def model(self, name: str = "sim", **kwargs: Any) -> ChatModel:
        """A thinktank :class:`~thinktank.llm.base.ChatModel` for model ``name`` on this server.

        ``kwargs`` go to :class:`~thinktank.llm.openai.OpenAICompatModel` (``concurrency``,
        ``retry``, ``capabilities``, ``cache``, …). Same as ``load_model("openai:NAME@URL")``.
        """
        from thinktank.llm.openai import OpenAICompatModel

        kwargs.setdefault("api_key", self.config.api_key or "sim-key")
        return OpenAICompatModel(name, base_url=self.base_url, **kwargs)

    def healthy(self) -> bool:
        try:
            with httpx.Client(timeout=1.0, trust_env=False) as client:
                return client.get(self.url + "/health").status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> Any:
        self.start()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()  # type: ignore[attr-defined]

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


class SimulatorServer(_Handle):
    """The simulator in a background thread: ``with SimulatorServer(cfg) as sim: sim.base_url``.

    Keyword arguments are :class:`SimulatorConfig` fields (used when ``config`` is None).
    ``engine`` is the live :class:`~thinktank.llm.simulator.engine.SimulatorEngine`.
    """

    def __init__(self, config: SimulatorConfig | None = None, **fields: Any) -> None:
        self.config = config or SimulatorConfig.model_validate(fields)
        self._thread: ThreadedServer | None = None
        self.engine: Any = None
        """The live engine (read it only while no request is running, e.g. after a batch)."""

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        if self._thread is not None:
            return self
        sock = bind_socket(self.config.host, self.config.port)
        server, self.engine = _make_server(self.config)
        self._thread = ThreadedServer(server, sock, "thinktank-simulator")
        self.port = self._thread.port
        self._thread.start("simulator", timeout)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        # force: don't wait for hung (timeout-fault) requests
        self._thread.stop(force=True, timeout=10)
        self._thread = None


class SimulatorProcess(_Handle):
    """The simulator in a child process; same interface as :class:`SimulatorServer`.

    The config travels as a JSON file; readiness is detected by polling ``/health``.
    The child's stderr goes to :attr:`log_path` (shown when it fails to start).
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, startup_timeout: float = 30.0, **fields: Any
    ) -> None:
        self.config = config or SimulatorConfig.model_validate(fields)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None

    def start(self) -> SimulatorProcess:
        if self.proc is not None:
            return self
        self._dir = tempfile.TemporaryDirectory(prefix="thinktank-sim-")
        cfg_path = Path(self._dir.name) / "config.json"
        cfg_path.write_text(self.config.model_dump_json())
        self.log_path = Path(self._dir.name) / "stderr.log"
        sock = bind_socket(self.config.host, self.config.port)
        self.port = sock.getsockname()[1]
        fd = sock.fileno()
        cmd = [sys.executable, "-m", "thinktank.llm.simulator", "--config", str(cfg_path)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*cmd, "--fd", str(fd), "--parent-pid", str(os.getpid())],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        sock.close()
        deadline = time.monotonic() + self.startup_timeout
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"simulator process did not become healthy:\n{tail}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def serve_forever(
    config: SimulatorConfig, *, fd: int | None = None, announce: bool = False
) -> None:
    """Run the simulator in the foreground until SIGINT/SIGTERM.

    ``fd`` is an inherited bound socket (from :class:`SimulatorProcess`); else the
    config's host/port is bound. ``announce`` prints the base URL on stdout.
    """
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sock = socket.socket(fileno=fd) if fd is not None else bind_socket(config.host, config.port)
    server, _ = _make_server(config)
    if announce:  # the base URL alone on stdout, so scripts can read it
        port = sock.getsockname()[1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        print(f"http://{host}:{port}/v1", flush=True)
        print("simulator running; Ctrl-C stops it", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
