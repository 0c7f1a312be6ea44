"""``thinktank memory``: browse, search, export, import and prune a memory bank.

Every command takes ``--db PATH`` (default ``$THINKTANK_MEMORY``, else
``~/.local/share/thinktank/memory.sqlite``). Commands that only read never create
a database file; ``import`` creates it when missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from thinktank.memory import MemoryFilter, MemoryItem, SQLiteMemoryBank

T = TypeVar("T")

app = typer.Typer(
    help="Reasoning memory bank: list, search, show, export, import, prune.",
    no_args_is_help=True,
)

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="THINKTANK_MEMORY",
    help="Memory database file [default: ~/.local/share/thinktank/memory.sqlite].",
)
KIND_OPTION = typer.Option(None, "--kind", help="Only this kind (repeatable).")
DOMAIN_OPTION = typer.Option(None, "--domain", help="Only this domain (repeatable).")
TAG_OPTION = typer.Option(
    None, "--tag", help="Only items with this tag (repeatable: all must match)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON lines instead of a table.")


def _fail(message: str) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def _open(db: Path | None, *, create: bool = False) -> SQLiteMemoryBank:
    from thinktank.errors import ThinktankError
    from thinktank.memory import SQLiteMemoryBank, default_memory_path

    try:
        return SQLiteMemoryBank(db or default_memory_path(), create=create, max_items=None)
    except ThinktankError as exc:
        _fail(str(exc))


def _filters(
    kind: list[str] | None, domain: list[str] | None, tag: list[str] | None
) -> MemoryFilter | None:
    from pydantic import ValidationError

    from thinktank.memory import KINDS, MemoryFilter

    if not (kind or domain or tag):
        return None
    try:
        return MemoryFilter(kinds=kind or None, domains=domain or None, tags=tag or None)  # type: ignore[arg-type]
    except ValidationError:
        _fail(f"unknown kind in {kind}; valid kinds: {', '.join(KINDS)}")


def _table(items: list[MemoryItem], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("kind")
    table.add_column("domain")
    table.add_column("title", overflow="fold")
    table.add_column("tags", overflow="fold")
    table.add_column("retr", justify="right")
    table.add_column("succ", justify="right", style="green")
    table.add_column("fail", justify="right", style="red")
    for n, it in enumerate(items, 1):
        u = it.usage
        table.add_row(
            str(n),
            it.id,
            it.kind + (" [red](demoted)[/red]" if it.demoted else ""),
            escape(it.domain or "-"),
            escape(it.title),
            escape(", ".join(it.tags)),
            str(u.retrieved),
            str(u.used_in_success),
            str(u.used_in_failure),
        )
    Console().print(table)


def _emit(items: list[MemoryItem], as_json: bool, title: str) -> None:
    if as_json:
        for it in items:
            typer.echo(it.model_dump_json())
    elif not items:
        typer.echo("no items")
    else:
        _table(items, title)


def _guard(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    from thinktank.errors import ThinktankError

    try:
        return fn(*args, **kwargs)
    except (ThinktankError, OSError) as exc:
        _fail(str(exc))


@app.command("list")
def list_items(
    db: Path | None = DB_OPTION,
    kind: list[str] | None = KIND_OPTION,
    domain: list[str] | None = DOMAIN_OPTION,
    tag: list[str] | None = TAG_OPTION,
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Most items to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many items first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List items in insertion order."""
    bank = _open(db)
    filters = _filters(kind, domain, tag)
    items = _guard(bank.scan_sync, filters, limit=limit, offset=offset)
    total = _guard(bank.count_sync, filters)
    _emit(
        items, as_json, f"{total} item(s) in {bank.path}; showing {len(items)} from #{offset + 1}"
    )
    bank.close()


@app.command("search")
def search(
    query: str = typer.Argument(..., help="Free text; quotes and operators are plain words."),
    db: Path | None = DB_OPTION,
    k: int = typer.Option(5, "-k", "--top", min=1, help="Number of items."),
    kind: list[str] | None = KIND_OPTION,
    domain: list[str] | None = DOMAIN_OPTION,
    tag: list[str] | None = TAG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Retrieve the items most relevant to QUERY (does not count as a retrieval)."""
    bank = _open(db)
    items = _guard(bank.retrieve_sync, query, k, _filters(kind, domain, tag), record=False)
    _emit(items, as_json, f"top {len(items)} for {query!r}")
    bank.close()


@app.command("show")
def show(
    item_id: str = typer.Argument(..., metavar="ID", help="Item id or a unique prefix of it."),
    db: Path | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the item as JSON."),
) -> None:
    """Show one item with its provenance and track record."""
    from rich.console import Console
    from rich.panel import Panel

    from thinktank._sync import run_sync

    bank = _open(db)
    item = _guard(lambda: bank.get_sync(run_sync(bank.resolve(item_id))))
    bank.close()
    if as_json:
        typer.echo(item.model_dump_json(indent=2))
        return
    p, u = item.provenance, item.usage
    lines = [
        f"[bold]{escape(item.title)}[/bold]  [dim]{item.id}[/dim]",
        f"kind: {item.kind}{'  [red]demoted[/red]' if item.demoted else ''}   "
        f"domain: {escape(item.domain or '-')}   tags: {escape(', '.join(item.tags) or '-')}",
        "",
        f"[italic]when:[/italic] {escape(item.description or '-')}",
        "",
        escape(item.content),
        "",
        f"provenance: task {p.task_id or '-'}, outcome {p.outcome or '-'}, judge {p.judge or '-'}, "
        f"run {p.run_id or '-'}, method {p.method or '-'}, created {p.created:%Y-%m-%d %H:%M:%S} UTC",
        f"usage: retrieved {u.retrieved}, in successes {u.used_in_success}, "
        f"in failures {u.used_in_failure}, success rate {u.success_rate():.2f}",
    ]
    if item.merged_from:
        merged = ", ".join(f"{m.id} (task {m.provenance.task_id or '-'})" for m in item.merged_from)
        lines.append(f"merged from: {escape(merged)}")
    Console().print(Panel("\n".join(lines), expand=False))


@app.command("export")
def export(
    file: Path = typer.Argument(..., help="JSONL file to write (one item per line)."),
    db: Path | None = DB_OPTION,
) -> None:
    """Write every item to FILE as JSON lines (lossless; `import` reads it back)."""
    bank = _open(db)
    n = _guard(bank.export_sync, file)
    bank.close()
    typer.echo(f"exported {n} item(s) to {file}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL file from `export`."),
    db: Path | None = DB_OPTION,
) -> None:
    """Add the items of FILE (same id: replaced); creates the database when missing."""
    bank = _open(db, create=True)
    n = _guard(bank.import_sync, file)
    total = _guard(bank.count_sync)
    bank.close()
    typer.echo(f"imported {n} item(s); the bank now holds {total}")


@app.command("prune")
def prune(
    db: Path | None = DB_OPTION,
    max_items: int | None = typer.Option(
        None, "--max-items", min=1, help="Also evict down to this many items."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; change nothing."
    ),
) -> None:
    """Consolidate: merge near-duplicates, demote or evict repeat failures, enforce a cap.

    Items that keep failing are demoted, and evicted when they keep failing after that.
    Over --max-items, evicted first: demoted items, then the lowest success rate, then
    the least recently active.
    """
    bank = _open(db)
    bank.max_items = max_items
    report = _guard(bank.consolidate_sync, dry_run=dry_run)
    bank.close()
    verb = "would be" if dry_run else "were"
    absorbed = sum(len(v) for v in report.merged.values())
    typer.echo(
        f"{absorbed} duplicate(s) {verb} merged into {len(report.merged)} item(s); "
        f"{len(report.demoted)} demoted, {len(report.restored)} restored, "
        f"{len(report.evicted)} evicted; {report.before} → {report.after} item(s)"
    )
    for kept, gone in report.merged.items():
        typer.echo(f"  merged {', '.join(gone)} → {kept}")
    for label, ids in (
        ("demoted", report.demoted),
        ("restored", report.restored),
        ("evicted", report.evicted),
    ):
        if ids:
            typer.echo(f"  {label}: {', '.join(ids)}")
