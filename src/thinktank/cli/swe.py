"""``thinktank swe``: SWE-bench environments, harness checks, judging and predictions.

* ``gold`` runs every instance of a suite with its gold patch (must resolve) and with
  an empty patch (must not), each in a fresh sandbox; exits 1 when any instance fails.
* ``build`` makes the ``build``-mode environment images of a suite ahead of a run.
* ``judge`` judges one patch (``PATCH -i ID``) or a predictions file made by any
  system (``--predictions FILE``), writing the official report's fields.
* ``predictions`` writes a run's patches in the official predictions format.

Every command takes the environment options (``--swe-env``, ``--repos``,
``--swe-image``, ``--swe-data``, ``--sandbox``; :mod:`thinktank.cli.swe_options`, whose
:func:`~thinktank.cli.swe_options.harness_options` turns them into a
:class:`~thinktank.evals.swe.config.SWEHarnessConfig`, for ``thinktank eval`` too).
:func:`run_gold` is ``gold`` as a function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from thinktank.cli.swe_options import (
    DATA,
    ENV,
    IMAGE,
    INSTANCES,
    LOG_DIR,
    REPO_DIR,
    REPOS,
    SANDBOX,
    SUITE,
    fail,
    harness_options,
    make_harness,
    provider_from_file,
    swe_tasks,
)

app = typer.Typer(
    help="SWE-bench: build environments, validate the harness, judge patches and predictions.",
    no_args_is_help=True,
)


def run_gold(
    suite: str = "swe",
    *,
    instances: list[str] | None = None,
    options: dict[str, Any] | None = None,
    sandbox: Path | None = None,
    concurrency: int = 2,
    empty: bool = True,
    as_json: bool = False,
) -> int:
    """Validate the harness on ``suite``; print a table (or JSON); return the exit code."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from thinktank._sync import run_sync
    from thinktank.errors import ThinktankError
    from thinktank.evals.swe.config import SWEHarnessConfig
    from thinktank.evals.swe.gold import validate_gold

    console = Console(stderr=as_json)
    try:
        tasks = swe_tasks(suite, instances)
        config = SWEHarnessConfig(**(options or {}))
        provider = provider_from_file(sandbox)

        async def go() -> Any:
            try:
                return await validate_gold(
                    tasks,
                    provider,
                    config=config,
                    concurrency=concurrency,
                    empty=empty,
                    progress=lambda m: console.print(f"[dim]{escape(m)}[/]"),
                )
            finally:
                await provider.aclose()

        report = run_sync(go())
    except ThinktankError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.model_dump(), indent=2))
        return 0 if report.ok else 1
    table = Table("instance", "gold patch", "empty patch", "time", "notes")
    for column in table.columns:
        column.overflow = "fold"  # ids and fixes in full, even on a narrow terminal
    for r in report.results:
        if r.error:
            gold = "[red]error[/] (see notes)"
        elif r.gold_resolved:
            gold = "[green]resolved[/]"
        else:
            gold = f"[red]NOT resolved[/] {escape(r.gold_reason)}"
        if r.empty_resolved is None:
            nothing = "-"
        else:
            nothing = "[red]RESOLVED[/]" if r.empty_resolved else "[green]fails[/]"
        notes = "; ".join([*r.notes, *([r.error] if r.error else [])])
        table.add_row(escape(r.instance_id), gold, nothing, f"{r.seconds:.1f} s", escape(notes))
    console.print(table)
    style = "green" if report.ok else "red"
    console.print(f"[{style}]{report.summary()}[/]")
    return 0 if report.ok else 1


def _gather(
    swe_env: str | None,
    repos: Path | None,
    swe_image: str | None,
    swe_data: list[str] | None,
    log_dir: Path | None = None,
    repo_dir: str | None = None,
) -> dict[str, Any]:
    from thinktank.errors import ThinktankError

    try:
        return harness_options(
            swe_env=swe_env, repos=repos, swe_image=swe_image, swe_data=swe_data,
            log_dir=log_dir, repo_dir=repo_dir,
        )  # fmt: skip
    except ThinktankError as exc:
        fail(str(exc))
        raise  # unreachable


@app.command()
def gold(
    suite: str = SUITE,
    instance: list[str] = INSTANCES,
    swe_env: str = ENV,
    repos: Path = REPOS,
    swe_image: str = IMAGE,
    swe_data: list[str] = DATA,
    sandbox: Path = SANDBOX,
    repo_dir: str = REPO_DIR,
    log_dir: Path = LOG_DIR,
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Instances at once."),
    empty: bool = typer.Option(True, "--empty/--no-empty", help="Also check an empty patch fails."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Validate the harness: gold patches resolve, empty patches do not."""
    options = _gather(swe_env, repos, swe_image, swe_data, log_dir, repo_dir)
    code = run_gold(
        suite,
        instances=instance or None,
        options=options,
        sandbox=sandbox,
        concurrency=concurrency,
        empty=empty,
        as_json=as_json,
    )
    raise typer.Exit(code)


@app.command()
def build(
    suite: str = typer.Option(..., "--suite", "-s", help="A SWE-bench .json/.jsonl/.parquet file."),
    instance: list[str] = INSTANCES,
    repos: Path = REPOS,
    sandbox: Path = SANDBOX,
    as_json: bool = typer.Option(False, "--json", help="Print what was built as JSON."),
) -> None:
    """Build the `build`-mode environment images of a suite ahead of a run (cached).

    Build logs and wheelhouses: ~/.cache/thinktank/swe (THINKTANK_SWE_CACHE)."""
    import asyncio

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from thinktank._sync import run_sync
    from thinktank.errors import ThinktankError
    from thinktank.evals.swe.repo import swe_case

    options = _gather("build", repos, None, None)
    console = Console(stderr=True)
    rows: list[dict[str, Any]] = []
    try:
        tasks = swe_tasks(suite, instance or None)
        cases = [swe_case(t) for t in tasks]
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=console, transient=as_json,
        ) as bar:  # fmt: skip
            job = bar.add_task("environments", total=len(cases))
            harness = make_harness(
                options, sandbox, progress=lambda m: bar.update(job, description=m)
            )

            async def go() -> None:
                try:
                    for case in cases:  # one at a time: builds share the CPU and the cache
                        try:
                            p = await harness.prepare(case)
                            rows.append({
                                "instance_id": case.id, "image": p.image, "python": p.python,
                                "built": p.built, "seconds": round(p.seconds, 1),
                                "warnings": p.warnings,
                            })  # fmt: skip
                        except ThinktankError as exc:
                            rows.append({"instance_id": case.id, "error": str(exc)})
                        bar.advance(job)
                        await asyncio.sleep(0)
                finally:
                    await harness.aclose()

            run_sync(go())
    except ThinktankError as exc:
        fail(str(exc))
    failed = [r for r in rows if r.get("error")]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            if r.get("error"):
                console.print(f"[red]{escape(r['instance_id'])}[/]: {escape(r['error'])}")
            else:
                how = f"built in {r['seconds']} s" if r["built"] else "cached"
                warn = f" ({'; '.join(r['warnings'])})" if r["warnings"] else ""
                typer.echo(f"{r['instance_id']}: {r['image']} python {r['python']}, {how}{warn}")
    raise typer.Exit(1 if failed else 0)


@app.command()
def judge(
    patch: Path = typer.Argument(None, help="The patch file to judge ('-' for stdin)."),
    instance: str = typer.Option(None, "--instance", "-i", help="The instance id (with PATCH)."),
    predictions: Path = typer.Option(
        None, "--predictions", "-p", help="Judge a predictions file (official format) instead."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Write the verdict (PATCH) or the report (--predictions) here."
    ),
    suite: str = SUITE,
    swe_env: str = ENV,
    repos: Path = REPOS,
    swe_image: str = IMAGE,
    swe_data: list[str] = DATA,
    sandbox: Path = SANDBOX,
    log_dir: Path = LOG_DIR,
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Instances at once."),
) -> None:
    """Judge one patch (PATCH -i ID) or a predictions file (--predictions FILE).

    Exit codes: one patch: 0 resolved, 1 not resolved, 2 bad input or an error;
    predictions: 0 every instance judged, 1 some instance errored, 2 bad input."""
    import sys

    from thinktank._sync import run_sync
    from thinktank.errors import ThinktankError

    if (patch is None) == (predictions is None):
        fail("give a PATCH file with -i ID, or --predictions FILE")
    if predictions is not None and instance is not None:
        fail("-i goes with a PATCH file; --predictions judges every instance it names")
    options = _gather(swe_env, repos, swe_image, swe_data, log_dir)
    if predictions is not None:
        _judge_predictions(predictions, out, suite, options, sandbox, concurrency)
        return
    if instance is None:
        fail("judging a PATCH needs the instance: -i ID")
    try:
        text = sys.stdin.read() if str(patch) == "-" else patch.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {patch}: {exc.strerror or exc}")
    try:
        [task] = swe_tasks(suite, [instance])
        harness = make_harness(options, sandbox)

        async def go() -> Any:
            try:
                return await harness.evaluate(task, text)
            finally:
                await harness.aclose()
                await harness.provider.aclose()

        verdict = run_sync(go())
    except ThinktankError as exc:
        fail(str(exc))
    data = verdict.model_dump(exclude={"answer"})
    data["details"].pop("logs", None)  # full logs go to --log-dir
    text = json.dumps(data, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)
    mark = "resolved" if verdict.correct else "not resolved"
    typer.echo(f"{instance}: {mark} — {verdict.reason}", err=True)
    raise typer.Exit(0 if verdict.correct else 1)


def _judge_predictions(
    path: Path,
    out: Path | None,
    suite: str,
    options: dict[str, Any],
    sandbox: Path | None,
    concurrency: int,
) -> None:
    from rich.console import Console
    from rich.markup import escape

    from thinktank._sync import run_sync
    from thinktank.errors import ThinktankError
    from thinktank.evals.swe.predictions import judge_predictions, read_predictions

    console = Console(stderr=True)
    try:
        preds = read_predictions(path)
        tasks = swe_tasks(suite, None)  # the whole suite: the report's totals are over it
        harness = make_harness(
            options, sandbox, progress=lambda m: console.print(f"[dim]{escape(m)}[/]")
        )

        def done(iid: str, entry: dict[str, Any]) -> None:
            if entry.get("error"):
                mark = f"[red]error[/] ({escape(entry['error'])})"
            elif not entry["patch_exists"] or entry.get("empty"):
                mark = "[yellow]empty patch[/]"
            else:
                mark = "[green]resolved[/]" if entry.get("resolved") else "[red]unresolved[/]"
            console.print(f"{escape(iid)}: {mark}")

        async def go() -> Any:
            try:
                return await judge_predictions(
                    preds, tasks, harness, concurrency=concurrency, on_done=done
                )
            finally:
                await harness.aclose()
                await harness.provider.aclose()

        report = run_sync(go())
    except ThinktankError as exc:
        fail(str(exc))
    text = json.dumps(report, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"report: {out}")
    else:
        typer.echo(text)
    console.print(
        f"{report['resolved_instances']} resolved, {report['unresolved_instances']} unresolved, "
        f"{report['error_instances']} errors, {report['empty_patch_instances']} empty patches "
        f"of {report['submitted_instances']} submitted"
    )
    raise typer.Exit(1 if report["error_instances"] else 0)


@app.command("predictions")
def predictions_command(
    run_dir: Path = typer.Argument(..., help="A run directory of `thinktank eval` on SWE tasks."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the predictions (JSONL)."),
    graph: str = typer.Option(None, "--graph", help="The graph whose patches to export."),
    model_name: str = typer.Option(
        None, "--model-name", help="model_name_or_path (default thinktank/<graph>)."
    ),
) -> None:
    """Write a run's patches in the official predictions format."""
    from thinktank.errors import ThinktankError
    from thinktank.evals.reports.predictions import run_predictions
    from thinktank.evals.swe.predictions import write_predictions

    try:
        preds = run_predictions(run_dir, graph=graph, model_name=model_name)
    except ThinktankError as exc:
        fail(str(exc))
    write_predictions(preds, out)
    empty = sum(1 for p in preds if not (p.model_patch or "").strip())
    typer.echo(f"{len(preds)} predictions ({empty} empty) → {out}")
