"""The sandbox image: its recipe, content-hash tag, and builder.

The recipe (Debian suite, packages, user, directories) is data. Its hash names the
image (``thinktank/sandbox:<hash>``), so an image is rebuilt only when the recipe or
the builder changes; ``thinktank/sandbox:latest`` points at the newest build.

Two ways to build, same result:

* **Dockerfile** (``debian:<suite>-slim`` + ``apt-get``), used when the base image is
  already in the engine or the engine has a registry mirror configured.
* **Offline** (the default on a machine without registry access): debootstrap a
  minimal Debian from the host's configured apt mirror, add the user and tools in a
  chroot, and ``docker import`` the tree. See :mod:`thinktank.sandboxes._debootstrap`.

``auto`` never contacts a registry on its own initiative.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktank._strict import StrictModel
from thinktank.sandboxes._engine import docker_client, engine_errors
from thinktank.sandboxes.errors import SandboxEngineError

if TYPE_CHECKING:
    import docker

IMAGE_REPO = "thinktank/sandbox"
STABLE_TAG = f"{IMAGE_REPO}:latest"
BUILDER_VERSION = 3
Log = Callable[[str], None]

DEFAULT_PACKAGES = (
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-pytest",
    "git",
    "patch",
    "procps",
    "iproute2",
    "ca-certificates",
)


class ImageRecipe(StrictModel):
    """What goes into the sandbox image. Changing any field changes the image tag."""

    model_config = ConfigDict(frozen=True)

    suite: str = "bookworm"
    """Debian release to build from (the host's release for offline builds)."""
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    """Debian packages installed on top of the minimal base."""
    user: str = "sandbox"
    """Name of the unprivileged user commands run as."""
    uid: int = Field(default=1000, ge=1)
    """Numeric user id of :attr:`user` (never 0)."""
    gid: int = Field(default=1000, ge=1)
    """Numeric group id of :attr:`user`."""
    workdir: str = "/work"
    """Working directory of commands (a size-limited tmpfs at run time)."""
    home: str = "/home/sandbox"
    """Home directory of :attr:`user` (a tmpfs at run time)."""

    def env(self) -> dict[str, str]:
        """The image's baseline environment; nothing from the host is added to it."""
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": self.home,
            "USER": self.user,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }

    def setup_script(self) -> str:
        """Shell run as root inside the new root filesystem (chroot or ``RUN``)."""
        u, g = self.uid, self.gid
        return "\n".join(
            [
                "set -e",
                f"groupadd -g {g} {self.user}",
                f"useradd -u {u} -g {g} -d {self.home} -s /bin/bash -M {self.user}",
                f"mkdir -p {self.workdir} {self.home}",
                f"chown {u}:{g} {self.workdir} {self.home}",
                # a throwaway sandbox: let pip install without --break-system-packages
                "rm -f /usr/lib/python3*/EXTERNALLY-MANAGED",
                "git config --system init.defaultBranch main",
                "git config --system --add safe.directory '*'",
                f"echo '{self.content_hash()}' > /etc/thinktank-image",
            ]
        )

    def content_hash(self) -> str:
        """12 hex digits of SHA-256 over the recipe and the builder version."""
        data = self.model_dump(mode="json")
        data["builder"] = BUILDER_VERSION
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def tag(self) -> str:
        """The content-addressed tag, e.g. ``thinktank/sandbox:3f2a9c0d1e4b``."""
        return f"{IMAGE_REPO}:{self.content_hash()}"

    def changes(self) -> list[str]:
        """Dockerfile instructions applied by ``docker import``."""
        out = [f"ENV {k}={v}" for k, v in self.env().items()]
        out += [
            f"WORKDIR {self.workdir}",
            'CMD ["sleep", "infinity"]',
            f"LABEL thinktank.recipe={self.content_hash()}",
        ]
        return out

    def dockerfile(self) -> str:
        """An equivalent Dockerfile for machines that can reach a registry."""
        script = " && \\\n    ".join(
            line for line in self.setup_script().splitlines() if line != "set -e"
        )
        pkgs = " ".join(self.packages)
        return "\n".join(
            [
                f"FROM debian:{self.suite}-slim",
                "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                f"--no-install-recommends {pkgs} && rm -rf /var/lib/apt/lists/*",
                f"RUN {script}",
                *self.changes(),
                "",
            ]
        )


DEFAULT_RECIPE = ImageRecipe()


def default_image() -> str:
    """The tag of the image built from the default recipe."""
    return DEFAULT_RECIPE.tag


class BuildResult(BaseModel):
    """What :func:`build_image` did."""

    tag: str
    """The content-hash tag of the image."""
    built: bool
    """False when an image with this tag already existed (nothing was done)."""
    method: Literal["cached", "dockerfile", "debootstrap"]
    """How the image was produced."""
    seconds: float
    """Wall time spent."""


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    """True when ``ref`` names an image present in the engine."""
    import docker.errors

    try:
        client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _registry_usable(client: docker.DockerClient, base: str) -> bool:
    if image_exists(client, base):
        return True
    with contextlib.suppress(Exception):
        return bool(client.info().get("RegistryConfig", {}).get("Mirrors"))
    return False


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    path = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "thinktank"
        / "sandbox-build.lock"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_image(
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    method: Literal["auto", "dockerfile", "debootstrap"] = "auto",
    force: bool = False,
    client: docker.DockerClient | None = None,
    log: Log = lambda _msg: None,
) -> BuildResult:
    """Build the image for ``recipe`` unless its tag exists (or ``force``); tag it latest too.

    Serialized across processes by a lock file, so concurrent callers build once.
    """
    client = client or docker_client()
    start = time.monotonic()
    tag = recipe.tag
    with _build_lock():
        if not force and image_exists(client, tag):
            return BuildResult(
                tag=tag, built=False, method="cached", seconds=time.monotonic() - start
            )
        base = f"debian:{recipe.suite}-slim"
        if method == "auto":
            method = "dockerfile" if _registry_usable(client, base) else "debootstrap"
        log(f"building {tag} ({method})")
        if method == "dockerfile":
            _build_dockerfile(client, recipe, log)
        else:
            from thinktank.sandboxes._debootstrap import build_offline

            build_offline(client, recipe, log)
        with engine_errors("tag image"):
            client.api.tag(tag, IMAGE_REPO, "latest")
    log(f"built {tag} in {time.monotonic() - start:.0f}s")
    return BuildResult(tag=tag, built=True, method=method, seconds=time.monotonic() - start)


def _build_dockerfile(client: docker.DockerClient, recipe: ImageRecipe, log: Log) -> None:
    fileobj = io.BytesIO(recipe.dockerfile().encode())
    with engine_errors("docker build"):
        for chunk in client.api.build(
            fileobj=fileobj, tag=recipe.tag, rm=True, forcerm=True, network_mode="host", decode=True
        ):
            if "error" in chunk:
                raise SandboxEngineError(f"docker build failed: {chunk['error'].strip()}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                log(line)
