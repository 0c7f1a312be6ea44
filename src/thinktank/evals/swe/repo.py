"""Where an SWE instance's repository comes from, on the host, before it enters a sandbox.

* **Bundled** instances (``metadata['bundled']``) are built with
  :func:`~thinktank.evals.swe.suite.build_repo`: deterministic, offline, the commit
  equals the recorded ``base_commit``.
* **Public** instances (SWE-bench) need a local clone: cloning from GitHub is not
  attempted (sandboxes have no network and evaluations must be reproducible).
  Put clones under a folder given as ``repos`` — ``<repos>/<owner>__<name>``,
  ``<repos>/<owner>/<name>`` or ``<repos>/<name>`` — e.g.
  ``git clone https://github.com/psf/requests repos/psf__requests``. The tree at
  ``base_commit`` is exported (``git archive``) and committed once as a snapshot,
  so the sandbox gets a small repository without the project's history; patches
  are diffs of files, so they apply the same. The snapshot's commit is the base
  the SWE tools diff against; it carries the nearest release tag of the base commit
  (``git describe --tags``), so tools that read the version from git (setuptools_scm)
  see the real one, not ``0.1.dev1``.

Each repository is prepared once per :class:`RepoCache` (one per harness) and
reused for every sandbox that needs it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktank.errors import ConfigError, InfrastructureError
from thinktank.evals.swe.loader import SWEInstance, SWESpec, swebench_spec
from thinktank.evals.swe.suite import build_repo, bundled_spec, git_env, instance_names
from thinktank.evals.tasks.task import Task


@dataclass(frozen=True)
class SWECase:
    """One SWE instance with how to set it up and test it."""

    instance: SWEInstance
    spec: SWESpec
    bundled: str | None = None
    """Folder name of a bundled instance (built locally), else ``None``."""

    @property
    def id(self) -> str:
        return self.instance.instance_id


def swe_case(item: SWECase | Task | SWEInstance | dict[str, Any] | str) -> SWECase:
    """An :class:`SWECase` from a ``swe`` task, an instance, a record or a bundled name
    (a case is returned as it is)."""
    if isinstance(item, SWECase):
        return item
    if isinstance(item, str):
        from thinktank.evals.swe.suite import load_instance

        inst = load_instance(item)
        name = item if item in instance_names() else _bundled_name(inst)
        return SWECase(inst, bundled_spec(inst), name)
    if isinstance(item, Task):
        if item.kind != "swe":
            raise ConfigError(f"task {item.id!r} is a {item.kind!r} task, not an swe task")
        record = item.metadata.get("instance")
        if not isinstance(record, dict):
            raise ConfigError(
                f"task {item.id!r} has no metadata['instance'] (load SWE tasks with "
                "load_suite('swe') or load_swebench(...))"
            )
        inst = SWEInstance.model_validate(record)
        spec_data = item.metadata.get("spec")
        spec = SWESpec.model_validate(spec_data) if spec_data else swebench_spec(inst)
        # a bundled instance's record in a task file is still the bundled repository
        bundled = item.metadata.get("bundled") or _bundled_name(inst)
        if bundled and spec.source == "fallback":
            spec = bundled_spec(inst)
        return SWECase(inst, spec, str(bundled) if bundled else None)
    inst = item if isinstance(item, SWEInstance) else SWEInstance.model_validate(item)
    name = _bundled_name(inst)
    return SWECase(inst, bundled_spec(inst) if name else swebench_spec(inst), name)


def _bundled_name(inst: SWEInstance) -> str | None:
    if not inst.repo.startswith("thinktank-fixtures/"):
        return None
    name = inst.repo.split("/", 1)[1]
    return name if name in instance_names() else None


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InfrastructureError(f"git {' '.join(args)} in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


class RepoCache:
    """Host copies of instance repositories at their base commit, made once each.

    ``repos`` is the folder of local clones for public instances (see the module
    docstring). Call :meth:`close` to delete the copies.
    """

    def __init__(self, repos: str | Path | None = None) -> None:
        self.repos = Path(repos).expanduser() if repos else None
        self._root: Path | None = None
        self._ready: dict[str, tuple[Path, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _dir(self, case: SWECase) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="thinktank-swe-"))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in case.id)
        return self._root / safe

    async def get(self, case: SWECase) -> tuple[Path, str]:
        """``(host folder, commit)``: the repository at the base commit, built on first use."""
        if case.id in self._ready:
            return self._ready[case.id]
        lock = self._locks.setdefault(case.id, asyncio.Lock())
        async with lock:
            if case.id not in self._ready:
                dest = self._dir(case)
                self._ready[case.id] = await asyncio.to_thread(self._prepare, case, dest)
        return self._ready[case.id]

    def _prepare(self, case: SWECase, dest: Path) -> tuple[Path, str]:
        if dest.exists():
            shutil.rmtree(dest)
        if case.bundled:
            return dest, build_repo(case.bundled, dest)
        source = self.find_clone(case.instance.repo)
        dest.mkdir(parents=True)
        base = case.instance.base_commit
        archive = subprocess.run(
            ["git", "-C", str(source), "archive", "--format=tar", base],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise ConfigError(
                f"{case.id}: commit {base} is not in the clone at {source} "
                f"({archive.stderr.decode(errors='replace').strip()}); run `git -C {source} fetch` "
                "to bring it up to date"
            )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
        env = git_env(case.instance.created_at or "2000-01-01T00:00:00Z")
        _git(["-c", "init.defaultBranch=main", "init", "-q"], dest, env)
        _git(["add", "-A", "-f"], dest, env)
        flags = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
        _git(
            [*flags, "commit", "-q", "--no-verify", "-m", f"{case.instance.repo}@{base}"], dest, env
        )
        # the nearest release tag, so version tools (setuptools_scm) see the real version
        described = subprocess.run(
            ["git", "-C", str(source), "describe", "--tags", "--abbrev=0", base],
            capture_output=True,
            text=True,
            check=False,
        )
        if described.returncode == 0 and described.stdout.strip():
            _git(["tag", described.stdout.strip()], dest, env)
        return dest, _git(["rev-parse", "HEAD"], dest, env)

    def find_clone(self, repo: str) -> Path:
        """The local clone of GitHub repository ``owner/name`` under :attr:`repos`."""
        owner, _, name = repo.partition("/")
        where = str(self.repos) if self.repos is not None else "REPOS"
        hint = (
            f"clone it first: git clone https://github.com/{repo} {where}/{owner}__{name} "
            f"and pass {where} as --repos (or THINKTANK_SWE_REPOS; Python: repos=)"
        )
        if self.repos is None:
            raise ConfigError(
                f"the repository {repo} is not bundled and is not cloned from the internet; {hint}"
            )
        for candidate in (
            self.repos / f"{owner}__{name}",
            self.repos / owner / name,
            self.repos / name,
        ):
            if (candidate / ".git").exists() or (candidate / "HEAD").is_file():
                return candidate
        raise ConfigError(f"no clone of {repo} under {self.repos}; {hint}")

    def close(self) -> None:
        """Delete every host copy."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self._ready.clear()
