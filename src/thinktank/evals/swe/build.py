"""``build`` mode: environment images made here, per (repository, version), with no network.

An instance's environment is built from its :class:`SWESpec` on top of the sandbox
image, entirely offline inside Docker:

1. **Python** (:mod:`~thinktank.evals.swe.build_python`). The sandbox image's own
   Python when it is the spec's version; else the version is looked for on the host:
   an interpreter ``uv`` manages or can install (``uv python find/install``), then
   ``pythonX.Y`` on the ``PATH`` and pyenv's versions. A self-contained one (its own
   prefix, not ``/usr``) is copied into the image at the same path. When none is found
   the sandbox image's own Python is used and the image records a warning that every
   verdict repeats.
2. **Wheelhouse** (:mod:`~thinktank.evals.swe.build_wheels`). On the host, with an
   interpreter of the same version, ``pip wheel`` resolves and builds everything the
   environment needs: the spec's ``packages`` (the repository's requirement files at
   its environment commit, a conda ``environment.yml``'s dependencies, or a package
   list), its ``pip_packages``, the repository's own dependencies and, in ``build/``,
   its build backend. Only the host talks to the package index.
3. **Image** (:class:`EnvBuilder`, here). A container of the sandbox image with no
   network gets the wheelhouse (baked into ``/wheelhouse``) and creates the virtual
   environment ``/opt/testbed`` from it; the result is committed as
   ``thinktank/swe-env:<repo>-<version>-<hash>``, the hash covering everything that
   went in, so it is built once and reused by every instance of that repository and
   version (a cached build takes well under a second).

Per instance, the harness uploads the repository at its base commit to ``/testbed``
(owned by the sandbox user) and runs the spec's install commands with
``PIP_NO_INDEX=1`` and ``PIP_FIND_LINKS`` pointing at the wheelhouse, so a re-install
after the patch works offline too. A dependency the base commit needs but the
environment lacks is fetched into a per-instance top-up wheelhouse on the host and the
install retried once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktank.errors import InfrastructureError
from thinktank.evals.swe.build_python import PythonFound, find_python
from thinktank.evals.swe.build_wheels import (
    environment_requirements,
    export_tree,
    fill_wheelhouse,
    install_extras,
    release_version,
)
from thinktank.evals.swe.loader import SWEInstance, SWESpec

BUILDER_VERSION = 2
IMAGE_REPO = "thinktank/swe-env"
VENV = "/opt/testbed"
REPO_DIR = "/testbed"
WHEELHOUSE = "/wheelhouse"
FIND_LINKS = f"{WHEELHOUSE} {WHEELHOUSE}/build"
SANDBOX_PYTHON = "/usr/bin/python3"
Progress = Callable[[str], None]


def cache_root() -> Path:
    """Where wheelhouses and build logs live (``$THINKTANK_SWE_CACHE`` or ~/.cache)."""
    env = os.environ.get("THINKTANK_SWE_CACHE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "thinktank" / "swe"


@dataclass
class EnvImage:
    """A built (or reused) environment image."""

    tag: str
    python: str
    """The Python version inside (``X.Y.Z``)."""
    warnings: list[str] = field(default_factory=list)
    built: bool = False
    seconds: float = 0.0
    log: str | None = None
    """The build log on the host."""


class EnvBuilder:
    """Builds and caches environment images (one lock per image; thread-safe)."""

    def __init__(
        self,
        *,
        base_image: str | None = None,
        docker_host: str | None = None,
        cache_dir: str | Path | None = None,
        allow_python_download: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.base_image = base_image
        self.docker_host = docker_host
        self.cache = Path(cache_dir) if cache_dir else cache_root()
        self.allow_python_download = allow_python_download
        self.progress = progress or (lambda _m: None)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._sandbox_python: dict[str, str] = {}

    # -- keys ----------------------------------------------------------------------------

    def _client(self) -> Any:
        from thinktank.sandboxes import docker_client

        return docker_client(self.docker_host)

    def _base(self) -> tuple[str, str]:
        """(base image reference, its id)."""
        from thinktank.sandboxes import default_image, engine_errors, image_exists

        ref = self.base_image or default_image()
        client = self._client()
        if not image_exists(client, ref):
            raise InfrastructureError(
                f"the sandbox image {ref} is missing; build it with `thinktank sandbox doctor --fix`"
            )
        with engine_errors("inspect the sandbox image"):
            return ref, str(client.api.inspect_image(ref)["Id"])

    def python_for(self, spec: SWESpec) -> tuple[PythonFound | None, list[str]]:
        """The interpreter to put in the image (``None``: the sandbox's own) and warnings."""
        if not spec.python:
            return None, ["the spec names no Python version; the sandbox's Python is used"]
        if self._sandbox_python_version().startswith(spec.python + "."):
            return None, []  # the sandbox image's own Python is that version
        found = find_python(spec.python, allow_download=self.allow_python_download)
        if found is None:
            return None, [
                f"Python {spec.python} is not available here (uv cannot install it and no "
                f"local interpreter was found); the sandbox's Python is used instead"
            ]
        return found, []

    def key(self, case_spec: SWESpec, instance: SWEInstance, python: PythonFound | None) -> str:
        _, base_id = self._base()
        data = {
            "builder": BUILDER_VERSION,
            "base": base_id,
            "repo": instance.repo,
            "version": instance.version,
            "env_commit": instance.environment_setup_commit or instance.base_commit,
            "python": python.version if python else "sandbox",
            "packages": case_spec.packages,
            "pip_packages": case_spec.pip_packages,
            "requirements_paths": case_spec.requirements_paths,
            "env_yml_paths": case_spec.env_yml_paths,
            "extras": install_extras(case_spec),
            "test_cmd": case_spec.test_cmd,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def tag_for(self, instance: SWEInstance, key: str) -> str:
        slug = re.sub(
            r"[^a-z0-9_.-]+", "-", f"{instance.repo.replace('/', '__')}-{instance.version}".lower()
        )
        return f"{IMAGE_REPO}:{slug.strip('-.')[:80]}-{key}"

    def _lock(self, tag: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(tag, threading.Lock())

    # -- building ------------------------------------------------------------------------

    def ensure(self, spec: SWESpec, instance: SWEInstance, source: Path) -> EnvImage:
        """The environment image for ``instance`` (built now unless it exists).

        ``source`` is the local clone (it must hold the environment commit)."""
        from thinktank.sandboxes import image_exists

        t0 = time.monotonic()
        python, warnings = self.python_for(spec)
        key = self.key(spec, instance, python)
        tag = self.tag_for(instance, key)
        with self._lock(tag):
            client = self._client()
            if image_exists(client, tag):
                labels = client.api.inspect_image(tag)["Config"].get("Labels") or {}
                return EnvImage(
                    tag=tag,
                    python=labels.get("thinktank.python", ""),
                    warnings=json.loads(labels.get("thinktank.warnings", "[]")),
                    built=False,
                    seconds=time.monotonic() - t0,
                )
            return self._build(spec, instance, source, python, warnings, key, tag, t0)

    def _build(
        self,
        spec: SWESpec,
        instance: SWEInstance,
        source: Path,
        python: PythonFound | None,
        warnings: list[str],
        key: str,
        tag: str,
        t0: float,
    ) -> EnvImage:
        work = self.cache / "envs" / key
        logs = self.cache / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{tag.split(':', 1)[1]}.log"
        log = log_path.open("w", encoding="utf-8")
        say = self.progress

        def record(text: str) -> None:
            log.write(text if text.endswith("\n") else text + "\n")
            log.flush()

        try:
            say(f"{instance.repo} {instance.version}: resolving dependencies on the host")
            shutil.rmtree(work, ignore_errors=True)
            wheels = work / "wheelhouse"
            (wheels / "build").mkdir(parents=True)
            commit = instance.environment_setup_commit or instance.base_commit
            with tempfile.TemporaryDirectory(prefix="thinktank-env-") as tmp:
                tree = Path(tmp) / "repo"
                export_tree(source, commit, tree, instance)
                reqs, more = environment_requirements(spec, tree)
                warnings += more
                if "pytest" in spec.test_cmd and instance.repo != "pytest-dev/pytest":
                    if not any(re.match(r"^pytest([<>=!~ ;\[]|$)", r) for r in reqs):
                        reqs.append("pytest")
                host_py = python.executable if python else _host_python_for_sandbox()
                version_hint = release_version(source, commit)
                project = fill_wheelhouse(
                    host_py, reqs, tree, wheels, record, version_hint, install_extras(spec)
                )
            say(f"{instance.repo} {instance.version}: building the image (no network)")
            env_python = python.executable if python else SANDBOX_PYTHON
            version = python.version if python else self._sandbox_python_version()
            self._image(tag, key, wheels, python, env_python, project, version, warnings, record)
            record(f"built {tag} in {time.monotonic() - t0:.1f} s")
            say(f"{instance.repo} {instance.version}: built {tag} in {time.monotonic() - t0:.0f} s")
            return EnvImage(
                tag=tag,
                python=version,
                warnings=warnings,
                built=True,
                seconds=time.monotonic() - t0,
                log=str(log_path),
            )
        except InfrastructureError as exc:
            raise InfrastructureError(f"{exc} (build log: {log_path})") from exc
        finally:
            log.close()

    def _sandbox_python_version(self) -> str:
        ref, image_id = self._base()
        if self._sandbox_python.get(image_id) is None:
            from thinktank.sandboxes import engine_errors

            with engine_errors("ask the sandbox image for its Python version"):
                out = self._client().containers.run(
                    ref, ["python3", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                    remove=True, network_disabled=True, user="1000:1000",
                )  # fmt: skip
            self._sandbox_python[image_id] = bytes(out).decode().strip()
        return self._sandbox_python[image_id]

    def _image(
        self,
        tag: str,
        key: str,
        wheels: Path,
        python: PythonFound | None,
        env_python: str,
        project: str | None,
        version: str,
        warnings: list[str],
        record: Callable[[str], None],
    ) -> None:
        from thinktank.sandboxes import engine_errors

        ref, _ = self._base()
        client = self._client()
        with engine_errors("create the environment build container"):
            container = client.containers.create(
                ref, ["sleep", "3600"], user="0:0", network_disabled=True,
                network_mode="none", labels={"thinktank.backend": "swe-env-build"},
            )  # fmt: skip
        try:
            with engine_errors("copy into the build container"):
                container.put_archive("/", _tar_dir(wheels, WHEELHOUSE.lstrip("/")))
                if python is not None:
                    container.put_archive(
                        "/", _tar_dir(Path(python.prefix), python.prefix.lstrip("/"), python=True)
                    )
                container.start()
            installs = sorted(p.name for p in wheels.glob("*.whl"))
            script = "\n".join(
                [
                    "set -ex",
                    *(["chmod 755 /root"] if python and python.prefix.startswith("/root/") else []),
                    f"{shlex.quote(env_python)} -m venv {VENV}",
                    f"cd {WHEELHOUSE}",
                    (
                        f"{VENV}/bin/python -m pip install --no-index --find-links {WHEELHOUSE} "
                        f"--find-links {WHEELHOUSE}/build "
                        + " ".join(shlex.quote(w) for w in installs)
                    )
                    if installs
                    else "true",
                    f"mkdir -p {REPO_DIR}",
                    f"chown -R 1000:1000 {REPO_DIR} {VENV}",
                    f"{VENV}/bin/python -c 'import sys; print(sys.version)'",
                ]
            )
            with engine_errors("set up the environment"):
                code, out = container.exec_run(["bash", "-c", script], user="0:0")
            text = bytes(out or b"").decode(errors="replace")
            record(text)
            if code != 0:
                raise InfrastructureError(
                    f"setting up the environment failed (exit {code}): {text[-1500:]}"
                )
            changes = [
                f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                f"ENV VIRTUAL_ENV={VENV}",
                "ENV PIP_NO_INDEX=1",
                f'ENV PIP_FIND_LINKS="{FIND_LINKS}"',
                f"LABEL thinktank.swe-env={key}",
                f"LABEL thinktank.python={version}",
                f"LABEL thinktank.project={project or ''}",
                "LABEL thinktank.warnings=" + json.dumps(json.dumps(warnings)),
                'CMD ["sleep", "infinity"]',
            ]
            repo, _, tagname = tag.rpartition(":")
            with engine_errors("commit the environment image"):
                container.commit(repository=repo, tag=tagname, changes=changes)
        finally:
            try:
                container.remove(force=True)
            except Exception:  # the build's result is what matters; gc removes leftovers
                pass


def _host_python_for_sandbox() -> str:
    """A host interpreter of the sandbox Python's minor version (this one: same Debian)."""
    return sys.executable


_STDLIB_SKIP = {"test", "idlelib", "turtledemo"}


def _tar_dir(folder: Path, arcname: str, *, python: bool = False) -> bytes:
    """``folder`` as a tar at ``arcname``; for an interpreter, without the standard
    library's own test suite and IDE (``lib/pythonX.Y/test``, …)."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        for i in range(1, len(parts) - 1):
            if (
                parts[i - 1] == "lib"
                and parts[i].startswith("python")
                and parts[i + 1] in _STDLIB_SKIP
            ):
                return None if python else info
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(folder), arcname=arcname, filter=keep)
    return buf.getvalue()
