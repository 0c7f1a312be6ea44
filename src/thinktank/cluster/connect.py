"""Reaching a Ray cluster: connect to a running one, or start a private one here.

``address`` (``--ray-address``):

* ``None`` — ``RAY_ADDRESS`` when set, else a cluster already running on this
  machine (started with ``ray start --head``), else a private local cluster;
* ``"auto"`` — a running cluster (an error when there is none);
* ``"local"`` — always a new private local cluster;
* ``"ray://HOST:10001"`` — Ray Client to a remote head; ``"HOST:6379"`` — a head's GCS.

A private cluster listens on loopback only and sends no usage statistics. It offers
this machine's CPUs and, when a Docker engine answers here, a ``docker`` resource
(sandbox-heavy tasks request one unit per worker). It lives as long as the
executor that started it. When Ray is already initialised in this process (a test
session, a notebook) that cluster is used as it is and left running.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from thinktank.errors import ConfigError, InfrastructureError

log = logging.getLogger(__name__)

RAY_MISSING = (
    "the ray executor needs Ray: install thinktank's `ray` extra "
    "(pip install 'thinktank[ray]', or `uv sync --extra ray` in a checkout)"
)

_LOOPBACK_ENV = {
    # Ray picks the address its servers bind to and advertise; with this flag off it
    # uses loopback instead of the machine's outward address (a private cluster
    # needs nothing else).
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


class ClusterUnavailable(InfrastructureError):
    """No Ray cluster could be reached at the address given."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`ConfigError` naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(RAY_MISSING) from exc
    return ray


@dataclass
class Cluster:
    """The cluster this process is connected to."""

    address: str
    """What was connected to (``local`` for a private cluster)."""
    started: bool
    """True when this process started (and will stop) it."""

    def shutdown(self) -> None:
        """Disconnect, stopping the cluster when this process started it."""
        if self.started:
            import ray

            ray.shutdown()


def docker_available() -> bool:
    """Whether a Docker engine answers on this machine (for a private cluster's resources)."""
    try:
        from thinktank.sandboxes import docker_client

        docker_client(timeout=5.0).ping()
        return True
    except Exception:
        return False


def _token_auth_env() -> None:
    """Ray reads its authentication mode when it is imported, and a driver joining a
    cluster that uses tokens (Ray's default) by address must be in token mode. A
    token-mode driver joins a cluster without authentication as well, so the mode is
    set whenever a token is at hand and nobody chose one."""
    if "RAY_AUTH_MODE" in os.environ or "ray" in sys.modules:
        return
    if (
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").is_file()
    ):
        os.environ["RAY_AUTH_MODE"] = "token"


def start_local(*, num_cpus: int | None = None, docker: int | None = None) -> Cluster:
    """Start a private single-machine cluster on loopback (see the module docstring)."""
    for key, value in _LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    already = "ray" in sys.modules
    ray = import_ray()
    if already:  # the flag above is read when ray is imported; keep this process in line
        constants = sys.modules.get("ray._private.ray_constants")
        if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
            flag = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] != "0"
            setattr(constants, "ENABLE_RAY_CLUSTER", flag)  # noqa: B010
    cpus = num_cpus or os.cpu_count() or 1
    slots = docker if docker is not None else (cpus if docker_available() else 0)
    resources = {"docker": float(slots)} if slots else {}
    try:
        ray.init(
            address="local",
            num_cpus=cpus,
            resources=resources,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as exc:
        raise ClusterUnavailable(f"could not start a local Ray cluster: {exc}") from exc
    log.info("started a local Ray cluster: %d CPUs, docker=%d", cpus, slots)
    return Cluster(address="local", started=True)


def connect(
    address: str | None = None, *, num_cpus: int | None = None, docker: int | None = None
) -> Cluster:
    """Connect to the cluster at ``address`` or start a private one (see the module
    docstring); ``num_cpus`` and ``docker`` size a private cluster."""
    if address == "local" and "ray" not in sys.modules:
        return start_local(num_cpus=num_cpus, docker=docker)
    _token_auth_env()
    ray = import_ray()
    if ray.is_initialized():
        return Cluster(address="existing", started=False)
    if address == "local":
        return start_local(num_cpus=num_cpus, docker=docker)
    target = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=target or "auto", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if target is None:  # nothing running here: start a private cluster
            log.info("no running Ray cluster found (%s); starting a local one", exc)
            return start_local(num_cpus=num_cpus, docker=docker)
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {target!r}: {exc}. Start one with "
            "`ray start --head` (see the README, 'Scale out on Ray'), or leave out "
            "--ray-address to run on a private local cluster"
        ) from exc
    return Cluster(address=target or "auto", started=False)


def started_here() -> bool:
    """Whether this process started the cluster it is connected to (its workers then
    inherit this process's environment)."""
    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    return bool(getattr(node, "all_processes", None))


def cluster_resources() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(total, available)`` resources of the connected cluster."""
    import ray

    return dict(ray.cluster_resources()), dict(ray.available_resources())


def forwarded_env(models: Any = None) -> dict[str, str]:
    """Variables the workers need from the driver's environment: ``THINKTANK_*``,
    ``OTEL_*`` (a traced run's workers trace their tasks) and the API-key variables of
    the OpenAI-compatible ``models`` (a mapping or one model)."""
    out = {k: v for k, v in os.environ.items() if k.startswith(("THINKTANK_", "OTEL_"))}
    values = models.values() if isinstance(models, dict) else [models]
    for m in values:
        name = getattr(m, "_api_key_env", None)
        if isinstance(name, str) and name in os.environ:
            out[name] = os.environ[name]
    return out
