"""Docker engine access: a cached client, a thread pool for its blocking calls, and the
translation of ``docker``/``requests`` exceptions into thinktank errors.

The docker SDK is synchronous. Every blocking call runs on :data:`EXECUTOR`, a pool
large enough that long-running execs (which hold a thread while they stream) never
starve short calls such as a deadline kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from thinktank.errors import ThinktankError
from thinktank.sandboxes.errors import (
    ImageMissing,
    SandboxEngineError,
    SandboxError,
    SandboxTimeout,
    SandboxUnavailable,
)

if TYPE_CHECKING:
    import docker

T = TypeVar("T")

EXECUTOR = ThreadPoolExecutor(max_workers=96, thread_name_prefix="thinktank-sandbox")
_clients: dict[str, docker.DockerClient] = {}
_lock = threading.Lock()


async def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking engine call on the sandbox executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(EXECUTOR, functools.partial(fn, *args, **kwargs))


def docker_client(base_url: str | None = None, *, timeout: float = 120.0) -> docker.DockerClient:
    """A cached, version-negotiated client; raise :class:`SandboxUnavailable` if unreachable."""
    key = base_url or os.environ.get("DOCKER_HOST", "")
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a core dependency
            raise SandboxUnavailable(
                "the `docker` Python package is not installed", hint="pip install docker"
            ) from exc
        try:
            if base_url:
                client = docker.DockerClient(
                    base_url=base_url, version="auto", timeout=int(timeout), max_pool_size=128
                )
            else:
                client = docker.from_env(version="auto", timeout=int(timeout), max_pool_size=128)
            client.api.ping()
        except Exception as exc:
            where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
            raise SandboxUnavailable(
                f"the Docker engine at {where} is not reachable ({_short(exc)})"
            ) from exc
        _clients[key] = client
        return client


def forget_clients() -> None:
    """Drop cached clients (after the engine was restarted, for instance)."""
    with _lock:
        for client in _clients.values():
            with contextlib.suppress(Exception):
                client.close()
        _clients.clear()


def unix_socket_path(client: docker.DockerClient) -> str | None:
    """The engine's Unix socket path when the client talks over one, else ``None``."""
    adapter = getattr(client.api, "_custom_adapter", None)
    path = getattr(adapter, "socket_path", None)
    return path if isinstance(path, str) and path else None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) < 300 else text[:300] + "…"


def translate(exc: BaseException, what: str) -> SandboxError:
    """Map a third-party exception to the thinktank error a caller should see."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, SandboxError):
        return exc
    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageMissing(f"{what}: image not found ({_short(exc)})")
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return SandboxTimeout(f"{what}: the Docker engine did not answer in time ({_short(exc)})")
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return SandboxUnavailable(f"{what}: lost the Docker engine ({_short(exc)})")
    if isinstance(exc, docker.errors.DockerException):
        return SandboxEngineError(f"{what}: {_short(exc)}")
    return SandboxEngineError(f"{what}: {type(exc).__name__}: {_short(exc)}")


@contextlib.contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Translate engine exceptions raised in the block (``raise ... from exc``)."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        if isinstance(exc, ThinktankError):
            raise
        raise translate(exc, what) from exc


def is_not_found(exc: BaseException) -> bool:
    """True for a 404 from the engine (a container that is already gone)."""
    import docker.errors

    return isinstance(exc, docker.errors.NotFound)
