"""Offline image build: debootstrap from the host's apt mirror, chroot setup, ``docker import``.

Needs root on a Debian host (debootstrap and chroot). Only the package mirror that apt
already uses is contacted; no container registry is involved. Downloaded packages are
kept in a cache directory so a rebuild after a recipe change is quicker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from thinktank.sandboxes._engine import engine_errors
from thinktank.sandboxes.errors import SandboxEngineError, SandboxUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    import docker

    from thinktank.sandboxes.image import ImageRecipe

CACHE_DIR = Path("/var/cache/thinktank/debootstrap")
_PRUNE = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "var/log",
)


def host_codename() -> str | None:
    """``VERSION_CODENAME`` from /etc/os-release, or ``None`` off Debian-like hosts."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return None
    match = re.search(r"^VERSION_CODENAME=\"?([\w-]+)\"?$", text, re.M)
    return match.group(1) if match else None


def _sources_entries(root: Path = Path("/etc/apt")) -> list[tuple[list[str], list[str], list[str]]]:
    """(uris, suites, components) for each ``deb`` entry of the apt configuration."""
    entries: list[tuple[list[str], list[str], list[str]]] = []
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if (
                    "deb" in fields.get("types", "").split()
                    and fields.get("enabled", "yes") != "no"
                ):
                    entries.append(
                        (
                            fields.get("uris", "").split(),
                            fields.get("suites", "").split(),
                            fields.get("components", "").split(),
                        )
                    )
        elif path.suffix == ".list" or path.name == "sources.list":
            for raw in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", raw.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append(([words[1]], [words[2]], list(words[3:])))
    return entries


def apt_mirror(suite: str, root: Path = Path("/etc/apt")) -> str:
    """The first configured http(s) mirror that serves ``suite`` with component ``main``."""
    for uris, suites, components in _sources_entries(root):
        if suite in suites and "main" in components:
            for uri in uris:
                if uri.startswith(("http://", "https://")):
                    return uri
    raise SandboxUnavailable(
        f"no apt mirror for Debian {suite!r} with component 'main' is configured in /etc/apt",
        hint="configure one, or build from a Dockerfile on a machine that can reach a registry",
    )


def _ensure_debootstrap(log: Callable[[str], None]) -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SandboxUnavailable(
            "debootstrap is not installed", hint="install it (apt-get install debootstrap) as root"
        )
    log("installing debootstrap")
    from thinktank.sandboxes.doctor import apt_install

    apt_install(["debootstrap"])
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def _run(cmd: list[str], log_path: Path, what: str) -> None:
    with log_path.open("ab") as log:
        proc = subprocess.run(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise SandboxEngineError(
            f"{what} failed (exit {proc.returncode}); log {log_path}:\n" + "\n".join(tail)
        )


def build_offline(
    client: docker.DockerClient, recipe: ImageRecipe, log: Callable[[str], None]
) -> None:
    """Debootstrap ``recipe`` into a temporary tree and import it as ``recipe.tag``."""
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the offline image build needs root (debootstrap, chroot)",
            hint="run `sudo thinktank sandbox build`",
        )
    codename = host_codename()
    if codename is None:
        raise SandboxUnavailable(
            "the offline image build needs a Debian host", hint="build from a Dockerfile instead"
        )
    debootstrap = _ensure_debootstrap(log)
    mirror = apt_mirror(recipe.suite)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = CACHE_DIR.parent / "build.log"
    log_path.write_text("")
    with tempfile.TemporaryDirectory(prefix="thinktank-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {recipe.suite} from {mirror} (log: {log_path})")
        cmd = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(recipe.packages)}",
            "--components=main",
        ]
        cmd += [f"--cache-dir={CACHE_DIR}", recipe.suite, str(rootfs), mirror]
        _run(cmd, log_path, "debootstrap")
        _run(
            ["chroot", str(rootfs), "/bin/sh", "-c", recipe.setup_script()],
            log_path,
            "image setup in chroot",
        )
        for rel in _PRUNE:
            target = rootfs / rel
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
        log("importing the root filesystem")
        _import_tree(client, rootfs, recipe)


def _import_tree(client: docker.DockerClient, rootfs: Path, recipe: ImageRecipe) -> None:
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", "-", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tar.stdout is not None
    repo, _, tag = recipe.tag.partition(":")
    try:
        with engine_errors("docker import"):
            client.api.import_image_from_stream(
                tar.stdout, repository=repo, tag=tag, changes=recipe.changes()
            )
    finally:
        tar.stdout.close()
        err = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
        code = tar.wait()
    if code != 0:
        raise SandboxEngineError(f"tar of the root filesystem failed (exit {code}): {err.strip()}")
