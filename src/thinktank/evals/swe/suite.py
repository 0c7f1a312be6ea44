"""The bundled ``swe`` suite: small Python repositories with real-looking bugs.

Each instance lives in ``data/<name>/`` (next to this module):

* ``repo.txtar`` — the repository's files at the base commit, as plain text
  (txtar: ``-- path --`` headers), so the package ships no nested git repository;
* ``patch.diff`` / ``test_patch.diff`` — the gold fix and the tests that judge it;
* ``instance.json`` — the rest of the SWE-bench instance schema, including the
  recorded ``base_commit``.

:func:`build_repo` turns an instance into a git repository deterministically: one
commit of exactly those files, with a fixed author, committer, dates and message
and with the user's and system's git configuration ignored, so the commit hash is
the same on every machine and equals the recorded ``base_commit`` (a test checks
this). Tests run with ``python -m pytest -rA -p no:cacheprovider``; the repos need
nothing but pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from thinktank.errors import ConfigError, InfrastructureError
from thinktank.evals.swe.loader import SWEInstance, SWESpec, swe_task
from thinktank.evals.tasks.suites.files import parse_txtar
from thinktank.evals.tasks.task import Task

TEST_CMD = "python -m pytest -rA -p no:cacheprovider"
"""How the bundled repos run their tests (test ids are appended)."""

TEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
"""Environment for the test command: no third-party pytest plugins (they are not
needed and can take seconds to import), no ``.pyc`` files in the work tree."""

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "thinktank fixtures",
    "GIT_AUTHOR_EMAIL": "fixtures@thinktank.invalid",
    "GIT_COMMITTER_NAME": "thinktank fixtures",
    "GIT_COMMITTER_EMAIL": "fixtures@thinktank.invalid",
}


def data_file(*parts: str) -> Traversable:
    """A file or folder under the bundled instances' ``data/`` folder."""
    node = resources.files("thinktank.evals.swe") / "data"
    for p in parts:
        node = node / p
    return node


def instance_names() -> list[str]:
    """Names of the bundled instances (folder names), sorted."""
    root = data_file()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "instance.json").is_file())


def _folder(name: str) -> Any:
    names = instance_names()
    if name not in names:
        by_id = {n: n for n in names}
        for n in names:
            by_id[json.loads((data_file(n, "instance.json")).read_text())["instance_id"]] = n
        if name not in by_id:
            raise ConfigError(f"unknown SWE instance {name!r}; valid: {', '.join(names)}")
        name = by_id[name]
    return data_file(name)


def repo_files(name: str) -> dict[str, str]:
    """The base-commit files of instance ``name`` (folder name or instance id)."""
    return parse_txtar(_folder(name).joinpath("repo.txtar").read_text(encoding="utf-8"))


def load_instance(name: str) -> SWEInstance:
    """The full SWE-bench instance (with ``patch`` and ``test_patch``) for ``name``."""
    folder = _folder(name)
    data = json.loads(folder.joinpath("instance.json").read_text(encoding="utf-8"))
    data["patch"] = folder.joinpath("patch.diff").read_text(encoding="utf-8")
    data["test_patch"] = folder.joinpath("test_patch.diff").read_text(encoding="utf-8")
    return SWEInstance.model_validate(data)


def bundled_spec(instance: SWEInstance) -> SWESpec:
    """Set-up and test commands of a bundled instance (pytest only, nothing to install)."""
    return SWESpec(
        source="bundled",
        python="3.11",
        install=[],
        test_cmd=TEST_CMD,
        test_directives=[*instance.FAIL_TO_PASS, *instance.PASS_TO_PASS],
        env=dict(TEST_ENV),
    )


def git_env(date: str) -> dict[str, str]:
    """Environment for reproducible git commits: fixed identity and dates, no user config.

    ``date`` is ISO 8601 (``2024-02-11T09:30:00Z``); git gets it in its raw
    ``<epoch> +0000`` form, which no git version parses differently.
    """
    try:
        moment = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"created_at {date!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    raw = f"{int(moment.timestamp())} +0000"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_IDENTITY)
    env.update(
        GIT_AUTHOR_DATE=raw,
        GIT_COMMITTER_DATE=raw,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        LC_ALL="C",
    )
    return env


def _git(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise InfrastructureError("git is not installed; the swe suite needs it") from exc
    if proc.returncode != 0:
        raise InfrastructureError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def write_files(files: dict[str, str], dest: Path) -> None:
    """Write ``files`` under ``dest`` with mode 0644 (modes are part of the tree hash)."""
    for rel, content in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8", newline="\n")
        path.chmod(0o644)


def commit_files(files: dict[str, str], dest: Path, *, date: str, message: str) -> str:
    """Create a git repository at ``dest`` holding ``files`` in one commit; returns its hash."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ConfigError(f"{dest} is not empty; give a new or empty directory")
    env = git_env(date)
    _git(["-c", "init.defaultBranch=main", "init", "-q"], dest, env)
    write_files(files, dest)
    _git(["add", "-A"], dest, env)
    flags = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
    _git([*flags, "commit", "-q", "--no-verify", "-m", message], dest, env)
    return _git(["rev-parse", "HEAD"], dest, env)


def build_repo(name: str, dest: str | Path, *, check: bool = True) -> str:
    """Build instance ``name``'s repository at ``dest`` (new or empty); returns the commit.

    With ``check``, a commit that differs from the recorded ``base_commit`` raises
    :class:`~thinktank.errors.InfrastructureError` (the data or git changed).
    """
    instance = load_instance(name)
    commit = commit_files(
        repo_files(name),
        Path(dest),
        date=instance.created_at,
        message=f"Import {instance.repo} {instance.version}",
    )
    if check and commit != instance.base_commit:
        raise InfrastructureError(
            f"{instance.instance_id}: built commit {commit} differs from the recorded "
            f"base_commit {instance.base_commit}"
        )
    return commit


def load_swe_suite() -> list[Task]:
    """The bundled SWE instances as ``swe`` tasks.

    ``metadata['bundled']`` names the data folder, so a harness can call
    :func:`build_repo` instead of cloning ``repo`` from GitHub.
    """
    tasks = []
    for name in instance_names():
        instance = load_instance(name)
        task = swe_task(instance, bundled_spec(instance), source="thinktank:swe")
        task.metadata["bundled"] = name
        tasks.append(task)
    return tasks


def parse_pytest_report(output: str) -> dict[str, str]:
    """Test id → status (``PASSED``, ``FAILED``, ``ERROR``, …) from ``pytest -rA`` output.

    A test id asked for but absent from the report did not run (e.g. it does not
    exist yet); callers should treat it as failed. (See
    :func:`thinktank.evals.swe.logs.parse_pytest_rA`: ids with spaces and brackets.)
    """
    from thinktank.evals.swe.logs import parse_pytest_rA

    return parse_pytest_rA(output)
