"""The options of ``thinktank swe`` (``thinktank eval`` takes the environment ones too):
where instances run, local clones, images, data mounts, the sandbox, logs.

:func:`harness_options` turns them into
:class:`~thinktank.evals.swe.config.SWEHarnessConfig` fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

SUITE = typer.Option(
    "swe", "--suite", "-s", help="'swe' (bundled) or a SWE-bench .json/.jsonl/.parquet file."
)
INSTANCES = typer.Option(None, "--instance", "-i", help="Only these instance ids (repeatable).")
SWE_ENV_HELP = (
    "Where instances run: official (SWE-bench images), build (images made here, offline), "
    "clone (the sandbox image) or auto (build when swebench specifies the instance, else clone); "
    "default $THINKTANK_SWE_ENV or auto."
)
ENV = typer.Option(None, "--swe-env", help=SWE_ENV_HELP)
REPOS = typer.Option(
    None,
    "--repos",
    help="Folder of local clones (<owner>__<name>) for public instances; default $THINKTANK_SWE_REPOS.",
)
IMAGE = typer.Option(
    None,
    "--swe-image",
    help="official mode: image name template with {id} ('__' in ids becomes '_1776_') and "
    "{arch}, for a mirror; default swebench/sweb.eval.{arch}.{id}:latest.",
)
DATA = typer.Option(
    None,
    "--swe-data",
    help="Files a repository's tests read: REPO=HOST_DIR:SANDBOX_DIR, mounted read-only "
    "(repeatable; REPO may be *).",
)
SANDBOX = typer.Option(None, "--sandbox", help="Sandbox config file (YAML/JSON): limits, engine.")
REPO_DIR = typer.Option("repo", "--repo-dir", help="clone mode: where the repository goes.")
LOG_DIR = typer.Option(
    None,
    "--log-dir",
    "--swe-logs",
    help="Write each judged patch's script, full logs and report here (<id>, <id>-2, …).",
)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code`` (2: a usage error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def harness_options(
    *,
    swe_env: str | None = None,
    repos: Path | None = None,
    swe_image: str | None = None,
    swe_data: list[str] | None = None,
    log_dir: Path | None = None,
    repo_dir: str | None = None,
) -> dict[str, Any]:
    """:class:`SWEHarnessConfig` fields from the command-line options (unset ones omitted,
    so the environment variables' defaults apply)."""
    from thinktank.errors import ConfigError
    from thinktank.evals.swe.envs import ENV_MODES

    out: dict[str, Any] = {}
    if swe_env is not None:
        if swe_env not in ENV_MODES:
            raise ConfigError(f"unknown --swe-env {swe_env!r}; valid: {', '.join(ENV_MODES)}")
        out["env"] = swe_env
    if repos is not None:
        if not repos.is_dir():
            raise ConfigError(f"--repos {repos}: no such folder")
        out["repos"] = str(repos.resolve())
    if swe_image is not None:
        if "{id}" not in swe_image:
            raise ConfigError(
                f"--swe-image {swe_image!r} has no {{id}}; e.g. registry:5000/swebench/sweb.eval.{{arch}}.{{id}}:latest"
            )
        out["official_image"] = swe_image
    data = []
    for item in swe_data or []:
        repo, eq, rest = item.partition("=")
        source, colon, target = rest.partition(":")
        if not (eq and colon and repo and source and target):
            raise ConfigError(f"--swe-data {item!r}: write REPO=HOST_DIR:SANDBOX_DIR")
        if not Path(source).is_dir():
            raise ConfigError(f"--swe-data {item!r}: no folder {source} on this machine")
        if not target.startswith("/"):
            raise ConfigError(f"--swe-data {item!r}: SANDBOX_DIR must be an absolute path")
        data.append({"repo": repo, "source": str(Path(source).resolve()), "target": target})
    if data:
        out["data"] = data
    if log_dir is not None:
        out["log_dir"] = str(log_dir)
    if repo_dir is not None:
        out["repo_dir"] = repo_dir
    return out


def provider_from_file(sandbox: Path | None) -> Any:
    """The sandbox provider of a config file (default: Docker with secure defaults)."""
    from thinktank.sandboxes import provider_from_config

    if sandbox is None:
        return provider_from_config({"type": "docker"})
    from thinktank.sandboxes.config import read_sandbox_config

    return provider_from_config(read_sandbox_config(sandbox))


def swe_tasks(suite: str, instances: list[str] | None) -> list[Any]:
    """The ``swe`` tasks of ``suite``, only ``instances`` when given (unknown ids fail)."""
    from thinktank.errors import ConfigError
    from thinktank.evals.tasks.suites import load_suite

    tasks = [t for t in load_suite(suite) if t.kind == "swe"]
    if not tasks:
        raise ConfigError(f"{suite!r} holds no SWE instances")
    if instances:
        known = {t.id for t in tasks}
        missing = sorted(set(instances) - known)
        if missing:
            shown = ", ".join(sorted(known)[:10]) + (" …" if len(known) > 10 else "")
            raise ConfigError(f"unknown instance(s) {missing} in {suite}; it holds: {shown}")
        tasks = [t for t in tasks if t.id in set(instances)]
    return tasks


def make_harness(options: dict[str, Any], sandbox: Path | None, progress: Any = None) -> Any:
    """An :class:`~thinktank.evals.swe.harness.SWEHarness` from harness options and a sandbox file."""
    from thinktank.evals.swe.config import SWEHarnessConfig
    from thinktank.evals.swe.harness import SWEHarness

    return SWEHarness(provider_from_file(sandbox), SWEHarnessConfig(**options), progress=progress)
