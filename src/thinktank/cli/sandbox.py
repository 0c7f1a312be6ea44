"""``thinktank sandbox``: build the image, check/fix the engine, clean up, run a command."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Literal

import typer

app = typer.Typer(
    help="Sandboxes: build the image, check the engine (doctor), remove leftovers (gc).",
    no_args_is_help=True,
)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@app.command()
def build(
    method: str = typer.Option(
        "auto", help="auto | dockerfile | debootstrap (offline, from the host's apt mirror)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Rebuild even if the image for this recipe exists."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
) -> None:
    """Build the sandbox image (cached by a hash of its recipe)."""
    from thinktank.sandboxes.errors import SandboxError
    from thinktank.sandboxes.image import build_image

    if method not in ("auto", "dockerfile", "debootstrap"):
        _err(f"unknown method {method!r}; valid: auto, dockerfile, debootstrap")
        raise typer.Exit(2)
    chosen: Literal["auto", "dockerfile", "debootstrap"] = method  # type: ignore[assignment]
    try:
        result = build_image(
            method=chosen, force=force, log=(lambda _m: None) if quiet else typer.echo
        )
    except SandboxError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from exc
    if not quiet:
        typer.echo(
            f"{result.tag}: {'built' if result.built else 'up to date'} ({result.method}, {result.seconds:.1f}s)"
        )


@app.command()
def doctor(
    fix: bool = typer.Option(
        False, "--fix", help="Install/start the engine and build the image when missing."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print nothing when everything is fine."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    smoke: bool = typer.Option(
        True, "--smoke/--no-smoke", help="Start a sandbox to prove it works."
    ),
) -> None:
    """Check the Docker engine and sandbox image; say what is wrong (and fix it with --fix)."""
    from thinktank.sandboxes.doctor import doctor as run_doctor

    report = run_doctor(fix=fix, smoke=smoke, log=lambda m: _err(f"doctor: {m}"))
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "checks": [c.model_dump() for c in report.checks]}))
    elif not (quiet and report.ok):
        from rich.console import Console
        from rich.table import Table

        table = Table(show_header=True, header_style="bold")
        for col in ("check", "status", "detail", "fix"):
            table.add_column(col)
        for c in report.checks:
            if quiet and c.ok:
                continue
            status = (
                "[red]FAIL[/]"
                if not c.ok
                else "[yellow]fixed[/]"
                if c.fixed
                else "[yellow]warn[/]"
                if c.warning
                else "[green]ok[/]"
            )
            table.add_row(c.name, status, c.detail, c.fix or "")
        Console(stderr=quiet).print(table)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def gc(
    all_: bool = typer.Option(
        False, "--all", help="Remove every thinktank container, even ones in use."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    images: bool = typer.Option(
        False, "--images", help="Also remove sandbox images built from older recipes."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove expired, orphaned (owner process gone) and stopped sandbox containers."""
    from thinktank.sandboxes.errors import SandboxError
    from thinktank.sandboxes.gc import gc as run_gc

    try:
        report = run_gc(all=all_, dry_run=dry_run, images=images)
    except SandboxError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        verb = "would remove" if dry_run else "removed"
        for name, why in sorted(report.removed.items()):
            typer.echo(f"{verb} {name} ({why})")
        for tag in report.images:
            typer.echo(f"{verb} image {tag}")
        for name, error in report.errors.items():
            _err(f"could not remove {name}: {error}")
        typer.echo(f"{verb} {len(report.removed)}, kept {len(report.kept)}")
    if report.errors:
        raise typer.Exit(1)


@app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Print JSON lines.")) -> None:
    """List thinktank sandbox containers with their owner and age."""
    from thinktank.sandboxes.gc import list_containers

    for info in list_containers():
        if as_json:
            typer.echo(info.model_dump_json())
        else:
            alive = {True: "alive", False: "dead", None: "?"}[info.owner_alive]
            typer.echo(
                f"{info.name}  {info.state:8}  age {info.age_s:7.0f}s/{info.ttl_s}s  owner {info.owner} ({alive})"
            )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    backend: str = typer.Option("docker", help="docker | local"),
    timeout: float = typer.Option(
        60.0, help="Seconds before the command's process tree is killed."
    ),
) -> None:
    """Run one command in a fresh sandbox: ``thinktank sandbox run -- python3 -V``."""
    from thinktank.errors import ThinktankError
    from thinktank.sandboxes.provider import open_sandbox

    argv = list(ctx.args)
    if not argv:
        _err("give a command after --")
        raise typer.Exit(2)

    async def go() -> int:
        async with await open_sandbox({"type": backend}) as sb:
            res = await sb.exec(argv if len(argv) > 1 else argv[0], timeout=timeout)
        sys.stdout.buffer.write(res.stdout_bytes)
        sys.stderr.buffer.write(res.stderr_bytes)
        notes = [
            n
            for n, on in (
                ("timed out", res.timed_out),
                ("OOM-killed", res.oom_killed),
                ("output truncated", res.truncated),
            )
            if on
        ]
        if notes:
            _err(f"[{', '.join(notes)}]")
        return res.exit_code

    try:
        code = asyncio.run(go())
    except ThinktankError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)
