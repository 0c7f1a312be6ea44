"""``thinktank swe``: validate the SWE harness (``gold``) and judge one patch (``judge``).

``thinktank swe gold`` runs every instance of a suite with its gold patch (must
resolve) and with an empty patch (must not), each in a fresh sandbox, and exits 1
when any instance fails the check. :func:`run_gold` is the same as a function, for
other commands (``thinktank eval --suite swe --gold``) to call.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="SWE harness: validate it with gold patches, judge a patch.", no_args_is_help=True
)

_SUITE = typer.Option("swe", "--suite", "-s", help="'swe' (bundled) or a SWE-bench .json/.jsonl.")
_INSTANCES = typer.Option(None, "--instance", "-i", help="Only these instance ids (repeatable).")
_REPOS = typer.Option(
    None, "--repos", help="Folder of local clones (<owner>__<name>) for public instances."
)
_SANDBOX = typer.Option(
    None, "--sandbox", help="Sandbox config file (YAML/JSON), e.g. a SWE-bench image."
)
_REPO_DIR = typer.Option("repo", "--repo-dir", help="Where the repository lives in the sandbox.")
_IMAGE_REPO = typer.Option(
    False, "--image-repo", help="The image already holds the repository at --repo-dir."
)
_LOG_DIR = typer.Option(None, "--log-dir", help="Write each instance's patch, logs and report.")


def _provider(sandbox: Path | None) -> Any:
    from thinktank.sandboxes import provider_from_config

    if sandbox is None:
        return provider_from_config({"type": "docker"})
    import yaml

    return provider_from_config(yaml.safe_load(sandbox.read_text(encoding="utf-8")) or {})


def _tasks(suite: str, instances: list[str] | None) -> list[Any]:
    from thinktank.errors import ConfigError
    from thinktank.evals.suites import load_suite

    tasks = [t for t in load_suite(suite) if t.kind == "swe"]
    if not tasks:
        raise ConfigError(f"{suite!r} holds no SWE instances")
    if instances:
        known = {t.id for t in tasks}
        missing = sorted(set(instances) - known)
        if missing:
            raise ConfigError(f"unknown instance(s) {missing}; valid: {', '.join(sorted(known))}")
        tasks = [t for t in tasks if t.id in set(instances)]
    return tasks


def run_gold(
    suite: str = "swe",
    *,
    instances: list[str] | None = None,
    repos: Path | None = None,
    sandbox: Path | None = None,
    repo_dir: str = "repo",
    image_repo: bool = False,
    log_dir: Path | None = None,
    concurrency: int = 2,
    empty: bool = True,
    as_json: bool = False,
) -> int:
    """Validate the harness on ``suite``; print a table (or JSON); return the exit code."""
    from rich.console import Console
    from rich.table import Table

    from thinktank.errors import ThinktankError
    from thinktank.evals.swe_harness import SWEHarnessConfig, validate_gold

    console = Console()
    try:
        tasks = _tasks(suite, instances)
        config = SWEHarnessConfig(
            repos=str(repos) if repos else None,
            repo_dir=repo_dir,
            image_repo=image_repo,
            log_dir=str(log_dir) if log_dir else None,
        )
        provider = _provider(sandbox)

        async def go() -> Any:
            try:
                return await validate_gold(
                    tasks, provider, config=config, concurrency=concurrency, empty=empty
                )
            finally:
                await provider.aclose()

        report = asyncio.run(go())
    except ThinktankError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    if as_json:
        typer.echo(json.dumps(report.model_dump(), indent=2))
        return 0 if report.ok else 1
    table = Table("instance", "gold patch", "empty patch", "time", "notes")
    for r in report.results:
        gold = "[green]resolved[/]" if r.gold_resolved else f"[red]NOT resolved[/] {r.gold_reason}"
        if r.empty_resolved is None:
            nothing = "-"
        else:
            nothing = "[red]RESOLVED[/]" if r.empty_resolved else "[green]fails[/]"
        notes = "; ".join([*r.notes, *([r.error] if r.error else [])])
        table.add_row(r.instance_id, gold, nothing, f"{r.seconds:.1f} s", notes)
    console.print(table)
    style = "green" if report.ok else "red"
    console.print(f"[{style}]{report.summary()}[/]")
    return 0 if report.ok else 1


@app.command()
def gold(
    suite: str = _SUITE,
    instance: list[str] = _INSTANCES,
    repos: Path = _REPOS,
    sandbox: Path = _SANDBOX,
    repo_dir: str = _REPO_DIR,
    image_repo: bool = _IMAGE_REPO,
    log_dir: Path = _LOG_DIR,
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Instances at once."),
    empty: bool = typer.Option(True, "--empty/--no-empty", help="Also check an empty patch fails."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Validate the harness: gold patches resolve, empty patches do not."""
    code = run_gold(
        suite,
        instances=instance or None,
        repos=repos,
        sandbox=sandbox,
        repo_dir=repo_dir,
        image_repo=image_repo,
        log_dir=log_dir,
        concurrency=concurrency,
        empty=empty,
        as_json=as_json,
    )
    raise typer.Exit(code)


@app.command()
def judge(
    patch: Path = typer.Argument(..., help="The patch file to judge ('-' for stdin)."),
    instance: str = typer.Option(..., "--instance", "-i", help="The instance id."),
    suite: str = _SUITE,
    repos: Path = _REPOS,
    sandbox: Path = _SANDBOX,
    log_dir: Path = _LOG_DIR,
) -> None:
    """Judge one patch for one instance in a fresh sandbox; print the verdict as JSON."""
    import sys

    from thinktank.errors import ThinktankError
    from thinktank.evals.swe_harness import SWEHarness, SWEHarnessConfig

    text = sys.stdin.read() if str(patch) == "-" else patch.read_text(encoding="utf-8")
    try:
        [task] = _tasks(suite, [instance])
        provider = _provider(sandbox)
        config = SWEHarnessConfig(
            repos=str(repos) if repos else None, log_dir=str(log_dir) if log_dir else None
        )

        async def go() -> Any:
            harness = SWEHarness(provider, config)
            try:
                return await harness.evaluate(task, text)
            finally:
                await harness.aclose()
                await provider.aclose()

        verdict = asyncio.run(go())
    except ThinktankError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(verdict.model_dump(exclude={"answer"}), indent=2))
    raise typer.Exit(0 if verdict.correct else 1)
