"""``thinktank sandbox doctor``: check the engine and image, say what is wrong, fix it.

Checks, in order: the Docker engine answers; its setup suits sandboxes (init binary,
storage driver, cgroups); the sandbox image exists; a sandbox starts, has no network
and runs as non-root; no stale thinktank containers are left.

With ``fix=True`` on a Debian host as root: installs ``docker.io`` when no engine is
installed, starts ``dockerd --bridge=none --iptables=false`` in the background (log in
``/var/log/thinktank-dockerd.log``) and waits for it, builds the image when missing,
and removes stale containers. Idempotent: when everything is fine it changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from thinktank.sandboxes._engine import docker_client, forget_clients
from thinktank.sandboxes.errors import SandboxError, SandboxUnavailable
from thinktank.sandboxes.image import DEFAULT_RECIPE, ImageRecipe, build_image, image_exists

DOCKERD_LOG = Path("/var/log/thinktank-dockerd.log")
DOCKERD_ARGS = ["--bridge=none", "--iptables=false"]
APT_LOG = Path("/var/log/thinktank-apt.log")


class Check(BaseModel):
    """One line of the doctor's report."""

    name: str
    """What was checked."""
    ok: bool
    """Passed (possibly after a fix)."""
    detail: str = ""
    """What was found."""
    fix: str | None = None
    """What to do when it failed."""
    fixed: bool = False
    """The doctor changed something to make it pass."""
    warning: bool = False
    """Passed, but something is worth knowing."""


class DoctorReport(BaseModel):
    """All checks; ``ok`` when none failed."""

    checks: list[Check]
    """In the order they ran."""

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)


def apt_install(packages: list[str]) -> None:
    """``apt-get install`` non-interactively and quietly (``apt-get update`` first if needed)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    with APT_LOG.open("ab") as log:
        if (
            subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False
            ).returncode
            == 0
        ):
            return
        subprocess.run(
            ["apt-get", "update", "-q"], stdout=log, stderr=subprocess.STDOUT, env=env, check=False
        )
        if (
            subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False
            ).returncode
            == 0
        ):
            return
    tail = "\n".join(APT_LOG.read_text(errors="replace").splitlines()[-10:])
    raise SandboxUnavailable(
        f"apt-get install {' '.join(packages)} failed:\n{tail}", hint=f"see {APT_LOG}"
    )


def _dockerd_running() -> bool:
    """A dockerd is alive (the pid file may be stale and its pid reused after a reboot)."""
    try:
        pid = int(Path("/var/run/docker.pid").read_text().strip())
        return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    except (OSError, ValueError):
        return False


def start_engine(log: Callable[[str], None], *, wait_s: float = 90.0) -> str:
    """Install (if needed) and start dockerd on a Debian host as root; return what was done."""
    if os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") not in (
        "",
        "unix:///var/run/docker.sock",
    ):
        raise SandboxUnavailable(
            f"DOCKER_HOST={os.environ['DOCKER_HOST']} is not reachable",
            hint="start that engine, or unset DOCKER_HOST",
        )
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        raise SandboxUnavailable(
            "no Docker engine is running and this is not Debian as root",
            hint="install and start Docker, then rerun",
        )
    done = []
    if not shutil.which("dockerd"):
        log("installing docker.io (apt-get)")
        apt_install(["docker.io"])
        done.append("installed docker.io")
    if not _dockerd_running():
        Path("/var/run/docker.pid").unlink(missing_ok=True)  # stale: dockerd would refuse to start
        log(f"starting dockerd {' '.join(DOCKERD_ARGS)} (log: {DOCKERD_LOG})")
        with DOCKERD_LOG.open("ab") as out:
            subprocess.Popen(
                [shutil.which("dockerd") or "dockerd", *DOCKERD_ARGS],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        done.append("started dockerd")
    deadline = time.monotonic() + wait_s
    while True:
        forget_clients()
        try:
            docker_client()
            return ", ".join(done) or "engine came up"
        except SandboxUnavailable:
            if time.monotonic() > deadline:
                tail = (
                    "\n".join(DOCKERD_LOG.read_text(errors="replace").splitlines()[-8:])
                    if DOCKERD_LOG.exists()
                    else ""
                )
                raise SandboxUnavailable(
                    f"dockerd did not come up within {wait_s:.0f}s:\n{tail}",
                    hint=f"see {DOCKERD_LOG}",
                ) from None
            time.sleep(0.5)


def _engine_check(fix: bool, log: Callable[[str], None]) -> Check:
    try:
        docker_client()
        return Check(name="engine", ok=True, detail="reachable")
    except SandboxUnavailable as exc:
        if not fix:
            return Check(
                name="engine",
                ok=False,
                detail=str(exc).split(";")[0],
                fix="thinktank sandbox doctor --fix",
            )
        try:
            return Check(name="engine", ok=True, fixed=True, detail=start_engine(log))
        except SandboxError as err:
            return Check(
                name="engine", ok=False, detail=str(err), fix="install and start Docker by hand"
            )


def _setup_check() -> Check:
    info = docker_client().info()
    notes = [
        f"Docker {info.get('ServerVersion')}",
        f"storage {info.get('Driver')}",
        f"cgroup v{info.get('CgroupVersion', '?')}",
    ]
    warnings = []
    if info.get("Driver") == "vfs":
        warnings.append("vfs storage copies the whole image per container (slow starts)")
    if not info.get("MemoryLimit", True):
        warnings.append("memory limits are not supported by this kernel")
    if not info.get("PidsLimit", True):
        warnings.append("pids limits are not supported by this kernel")
    detail = ", ".join(notes + warnings)
    return Check(
        name="engine setup",
        ok=not any("not supported" in w for w in warnings),
        detail=detail,
        warning=bool(warnings),
    )


def _image_check(recipe: ImageRecipe, fix: bool, log: Callable[[str], None]) -> Check:
    client = docker_client()
    if image_exists(client, recipe.tag):
        return Check(name="image", ok=True, detail=recipe.tag)
    if not fix:
        return Check(
            name="image", ok=False, detail=f"{recipe.tag} is missing", fix="thinktank sandbox build"
        )
    try:
        result = build_image(recipe, log=log)
    except SandboxError as exc:
        return Check(
            name="image",
            ok=False,
            detail=f"build failed: {exc}",
            fix="thinktank sandbox build --method dockerfile",
        )
    return Check(
        name="image",
        ok=True,
        fixed=True,
        detail=f"built {result.tag} ({result.method}, {result.seconds:.0f}s)",
    )


async def _smoke() -> Check:
    from thinktank.sandboxes.config import DockerSandboxConfig

    start = time.monotonic()
    async with await DockerSandboxConfig().build().create() as sb:
        res = await sb.exec("id -u; ip -o link | cut -d: -f2 | tr -d ' ' | paste -sd, -")
    took = time.monotonic() - start
    uid, _, links = res.stdout.strip().partition("\n")
    ok = res.exit_code == 0 and uid != "0" and links == "lo"
    return Check(
        name="sandbox",
        ok=ok,
        detail=f"start+exec {took:.2f}s, uid {uid}, interfaces {links or '?'}",
        fix=None if ok else res.output,
    )


def _leftover_check(fix: bool) -> Check:
    from thinktank.sandboxes.gc import gc

    report = gc(dry_run=not fix)
    if not report.removed:
        return Check(
            name="leftovers", ok=True, detail=f"{len(report.kept)} live thinktank containers"
        )
    if fix:
        return Check(
            name="leftovers",
            ok=True,
            fixed=True,
            detail=f"removed {len(report.removed)} stale containers",
        )
    return Check(
        name="leftovers",
        ok=True,
        warning=True,
        detail=f"{len(report.removed)} stale containers",
        fix="thinktank sandbox gc",
    )


def doctor(
    *,
    fix: bool = False,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    smoke: bool = True,
    log: Callable[[str], None] = lambda _m: None,
) -> DoctorReport:
    """Run every check (fixing what it can when ``fix``); stops at the first blocking failure."""
    checks = [_engine_check(fix, log)]
    if not checks[0].ok:
        return DoctorReport(checks=checks)
    checks.append(_setup_check())
    checks.append(_image_check(recipe, fix, log))
    if checks[-1].ok and smoke and recipe == DEFAULT_RECIPE:
        try:
            checks.append(asyncio.run(_smoke()))
        except SandboxError as exc:
            checks.append(Check(name="sandbox", ok=False, detail=str(exc)))
    checks.append(_leftover_check(fix))
    return DoctorReport(checks=checks)
