"""Sandbox configuration: one pydantic model per backend, plus the warm pool.

Each model has a ``type`` discriminator, refuses unknown fields (listing the valid ones)
and has a ``build()`` that imports its backend lazily. Defaults are the secure choice;
every isolation measure can be loosened only by setting its field explicitly.

    >>> provider = load_sandbox_config({"type": "docker", "memory_mb": 512}).build()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.sandboxes.types import DEFAULT_OUTPUT_CAP

if TYPE_CHECKING:
    from thinktank.sandboxes.docker import DockerProvider
    from thinktank.sandboxes.local import LocalProvider
    from thinktank.sandboxes.pool import WarmPool


class _StrictConfig(StrictModel):
    model_config = ConfigDict(validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                valid = ", ".join(sorted(cls.model_fields))
                raise ValueError(
                    f"unknown field(s) {', '.join(map(repr, unknown))} for {cls.__name__}; valid fields: {valid}"
                )
        return data


class _CommonConfig(_StrictConfig):
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for every command (explicit values)."""
    pass_env: list[str] = Field(default_factory=list)
    """Names of host variables copied in. Nothing from the host is passed unless named here."""
    default_timeout_s: float = Field(default=120.0, gt=0)
    """Timeout of a command when the call gives none, seconds."""
    output_cap_bytes: int = Field(default=DEFAULT_OUTPUT_CAP, ge=1024)
    """Per-stream output cap; the rest is discarded while streaming and ``truncated`` set."""
    max_file_bytes: int = Field(default=32 << 20, ge=1)
    """Largest file ``read_file``/``write_file`` accept."""
    max_transfer_bytes: int = Field(default=256 << 20, ge=1)
    """Largest archive ``upload``/``download`` accept."""
    python: str = "python3"
    """Interpreter used by ``run_python`` and Python sessions."""
    shell: list[str] = Field(default_factory=lambda: ["/bin/bash", "-c"])
    """Argv prefix that runs a command given as a string."""


class HostMount(_StrictConfig):
    """A host path made visible in the sandbox (an explicit opt-in; none by default)."""

    source: str
    """Absolute host path."""
    target: str
    """Absolute path inside the sandbox."""
    read_only: bool = True
    """Mount read-only (the default); a writable mount lets sandboxed code change the host."""

    @model_validator(mode="after")
    def _absolute(self) -> HostMount:
        if not (self.source.startswith("/") and self.target.startswith("/")):
            raise ValueError("mount source and target must be absolute paths")
        return self


class DockerSandboxConfig(_CommonConfig):
    """A Docker container per sandbox (the default, strong isolation)."""

    type: Literal["docker"] = "docker"
    image: str | None = None
    """Image to run; ``None`` means the image built from the default recipe."""
    docker_host: str | None = None
    """Engine address (``unix://…``, ``tcp://…``); ``None`` uses ``DOCKER_HOST`` or the local socket."""
    user: str = "1000:1000"
    """``uid:gid`` commands run as. Root (``0``) must be asked for explicitly."""
    workdir: str = "/work"
    """Working directory (a size-limited tmpfs)."""
    workdir_size_mb: int = Field(default=1024, ge=1)
    """Size of the work dir tmpfs. tmpfs pages count against the memory limit."""
    tmp_size_mb: int = Field(default=256, ge=1)
    """Size of the ``/tmp`` tmpfs."""
    home_size_mb: int = Field(default=256, ge=1)
    """Size of the home directory tmpfs."""
    home: str = "/home/sandbox"
    """Home directory path (must exist in the image)."""
    memory_mb: int = Field(default=2048, ge=16)
    """Memory limit; swap is off unless ``swap_mb`` is set. Exceeding it OOM-kills (exit 137)."""
    swap_mb: int = Field(default=0, ge=0)
    """Swap allowed on top of ``memory_mb`` (0: none)."""
    cpus: float = Field(default=1.0, gt=0)
    """CPU quota in cores."""
    pids_limit: int = Field(default=256, ge=8)
    """Maximum number of processes and threads (fork bombs stop here)."""
    nofile: int = Field(default=4096, ge=64)
    """Open-file limit."""
    network_mode: str = "none"
    """Docker network; anything but ``none`` gives the sandbox a network (explicit opt-in)."""
    read_only_root: bool = True
    """Mount the image read-only; only the tmpfs dirs are writable."""
    cap_drop_all: bool = True
    """Drop every Linux capability."""
    cap_add: list[str] = Field(default_factory=list)
    """Capabilities to keep despite ``cap_drop_all`` (explicit opt-in)."""
    no_new_privileges: bool = True
    """Forbid privilege gain through setuid binaries."""
    mounts: list[HostMount] = Field(default_factory=list)
    """Host paths to bind into the sandbox (none by default; read-only unless said otherwise)."""
    runtime: str | None = None
    """OCI runtime, e.g. ``runsc`` for gVisor. Fails closed when the engine lacks it."""
    ttl_s: int = Field(default=4 * 3600, ge=60)
    """Lifetime: the container exits by itself after this, and ``gc`` removes it."""
    kill_grace_s: float = Field(default=1.0, ge=0.1)
    """After a timeout, SIGTERM is followed by SIGKILL this much later."""
    start_timeout_s: float = Field(default=60.0, gt=0)
    """Deadline for creating and starting a container."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra container labels."""

    def build(self) -> DockerProvider:
        """A provider creating Docker sandboxes with this configuration."""
        from thinktank.sandboxes.docker import DockerProvider

        return DockerProvider(self)


class LocalSandboxConfig(_CommonConfig):
    """A subprocess in a temporary directory: weaker isolation, for machines without Docker.

    Commands run in their own session with rlimits and (where permitted) no network;
    as root they run as ``nobody``. There is no filesystem isolation beyond Unix
    permissions: use Docker for untrusted code.
    """

    type: Literal["local"] = "local"
    root_dir: str | None = None
    """Where the sandbox's temporary directory is created (default: the system temp dir)."""
    network: Literal["none", "host"] = "none"
    """``none`` runs commands in a new network namespace and fails closed if that is not permitted."""
    run_as: Literal["auto", "current", "nobody"] = "auto"
    """``auto``: drop to ``nobody`` when running as root, else stay the current user."""
    memory_mb: int = Field(default=2048, ge=16)
    """Address-space limit per process (RLIMIT_AS)."""
    max_processes: int = Field(default=512, ge=8)
    """Process limit (RLIMIT_NPROC, counted per user)."""
    max_file_mb: int = Field(default=1024, ge=1)
    """Largest file a command may write (RLIMIT_FSIZE)."""
    nofile: int = Field(default=1024, ge=64)
    """Open-file limit."""

    def build(self) -> LocalProvider:
        """A provider creating local sandboxes with this configuration."""
        from thinktank.sandboxes.local import LocalProvider

        return LocalProvider(self)


BackendConfig = Annotated[DockerSandboxConfig | LocalSandboxConfig, Field(discriminator="type")]


class PoolConfig(_StrictConfig):
    """A warm pool of pre-started sandboxes in front of a backend."""

    type: Literal["pool"] = "pool"
    sandbox: BackendConfig = Field(default_factory=DockerSandboxConfig)
    """The backend the pool starts sandboxes with."""
    size: int = Field(default=4, ge=0)
    """Sandboxes kept started and idle, ready to hand out."""
    max_size: int = Field(default=16, ge=1)
    """Most sandboxes alive at once (idle + leased); ``acquire`` waits beyond it."""
    reuse: Literal["reset", "discard"] = "reset"
    """On release: ``reset`` (kill everything, wipe writable dirs, verify) or ``discard``."""
    acquire_timeout_s: float = Field(default=300.0, gt=0)
    """How long ``acquire`` waits for a sandbox before raising."""
    start_concurrency: int = Field(default=2, ge=1)
    """Sandboxes started in parallel when refilling."""

    @model_validator(mode="after")
    def _sizes(self) -> PoolConfig:
        if self.size > self.max_size:
            raise ValueError(f"size ({self.size}) must not exceed max_size ({self.max_size})")
        return self

    def build(self) -> WarmPool:
        """The pool (call ``await pool.start()`` to warm it, or let ``acquire`` do it)."""
        from thinktank.sandboxes.pool import WarmPool

        return WarmPool(self.sandbox.build(), self)


SandboxConfig = Annotated[
    DockerSandboxConfig | LocalSandboxConfig | PoolConfig, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[DockerSandboxConfig | LocalSandboxConfig | PoolConfig] = TypeAdapter(
    SandboxConfig
)
TYPES = ("docker", "local", "pool")


def load_sandbox_config(
    data: dict[str, Any] | BaseModel,
) -> DockerSandboxConfig | LocalSandboxConfig | PoolConfig:
    """Validate a config mapping; raise :class:`ConfigError` naming what is wrong and what is valid."""
    if isinstance(data, DockerSandboxConfig | LocalSandboxConfig | PoolConfig):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    data = dict(data)
    data.setdefault("type", "docker")
    if data["type"] not in TYPES:
        raise ConfigError(f"unknown sandbox type {data['type']!r}; valid types: {', '.join(TYPES)}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid {data['type']} sandbox config: {problems}") from exc


def read_sandbox_config(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML/JSON sandbox config file, validated up front.

    Errors name the file, line and field (``sandbox.yaml:3:1: memory_mb: ...``). The
    mapping is returned as read, so it travels to workers as plain data.
    """
    from thinktank._configfile import read

    doc = read(path, "sandbox config")
    data = doc.mapping("sandbox config")
    kind = data.get("type", "docker")
    if kind not in TYPES:
        problem = f"unknown sandbox type {kind!r}; valid types: {', '.join(TYPES)}"
        raise ConfigError(doc.report([(("type",), problem)], "sandbox config"))
    try:
        _ADAPTER.validate_python({**data, "type": kind})
    except ValidationError as exc:
        raise ConfigError(doc.explain(exc, "sandbox config", skip=TYPES)) from exc
    return data
