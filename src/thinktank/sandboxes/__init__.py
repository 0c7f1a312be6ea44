"""Sandboxes: run model-written code and shell commands in isolation.

* :class:`Sandbox` (``base.py``) — the operations: ``exec``, ``run_python``,
  ``python_session``, ``write_file``/``read_file``, ``upload``/``download``, ``close``.
* Providers turn a config into started sandboxes: Docker (``docker.py``, the default,
  strong isolation), local subprocesses (``local.py``, weaker), and the warm pool
  (``pool.py``) in front of either.
* ``thinktank sandbox doctor --fix`` installs/starts the engine and builds the image.

Quick start::

    from thinktank.sandboxes import open_sandbox

    async with await open_sandbox() as sb:
        res = await sb.exec("python3 -c 'print(6*7)'", timeout=10)
        assert res.stdout == "42\\n"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thinktank.sandboxes.base import ProcessChannel, Sandbox
from thinktank.sandboxes.config import (
    DockerSandboxConfig,
    HostMount,
    LocalSandboxConfig,
    PoolConfig,
    SandboxConfig,
    load_sandbox_config,
)
from thinktank.sandboxes.errors import (
    FileTooLarge,
    ImageMissing,
    PathRejected,
    SandboxClosed,
    SandboxEngineError,
    SandboxError,
    SandboxFileError,
    SandboxFileNotFound,
    SandboxTimeout,
    SandboxUnavailable,
)
from thinktank.sandboxes.provider import SandboxProvider, open_sandbox, provider_from_config
from thinktank.sandboxes.session import PythonSession
from thinktank.sandboxes.types import CellResult, ExecResult

if TYPE_CHECKING:
    from thinktank.sandboxes._engine import docker_client, engine_errors
    from thinktank.sandboxes.docker import DockerProvider, DockerSandbox
    from thinktank.sandboxes.image import default_image, image_exists
    from thinktank.sandboxes.local import LocalProvider, LocalSandbox
    from thinktank.sandboxes.pool import PooledSandbox, WarmPool

_LAZY = {
    "docker_client": "thinktank.sandboxes._engine",
    "engine_errors": "thinktank.sandboxes._engine",
    "default_image": "thinktank.sandboxes.image",
    "image_exists": "thinktank.sandboxes.image",
    "DockerProvider": "thinktank.sandboxes.docker",
    "DockerSandbox": "thinktank.sandboxes.docker",
    "LocalProvider": "thinktank.sandboxes.local",
    "LocalSandbox": "thinktank.sandboxes.local",
    "PooledSandbox": "thinktank.sandboxes.pool",
    "WarmPool": "thinktank.sandboxes.pool",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thinktank.sandboxes' has no attribute {name!r}")


__all__ = [
    "CellResult",
    "DockerProvider",
    "DockerSandbox",
    "DockerSandboxConfig",
    "ExecResult",
    "FileTooLarge",
    "HostMount",
    "ImageMissing",
    "LocalProvider",
    "LocalSandbox",
    "LocalSandboxConfig",
    "PathRejected",
    "PoolConfig",
    "PooledSandbox",
    "ProcessChannel",
    "PythonSession",
    "Sandbox",
    "SandboxClosed",
    "SandboxConfig",
    "SandboxEngineError",
    "SandboxError",
    "SandboxFileError",
    "SandboxFileNotFound",
    "SandboxProvider",
    "SandboxTimeout",
    "SandboxUnavailable",
    "WarmPool",
    "default_image",
    "docker_client",
    "engine_errors",
    "image_exists",
    "load_sandbox_config",
    "open_sandbox",
    "provider_from_config",
]
