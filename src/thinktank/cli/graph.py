"""``thinktank graph``: look at collaboration topologies.

``thinktank graph show FILE`` prints a topology as Mermaid text; FILE is a YAML or
JSON :class:`~thinktank.graphs.spec.GraphSpec` or a topology string such as
``debate:m=3,r=2`` or ``"debate:m=3,r=3 + ceo:rounds=3 + mav:k=3"``. ``--png OUT``
also renders it with Graphviz's ``dot`` when that is installed.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.markup import escape

app = typer.Typer(help="Collaboration graphs: show a topology.", no_args_is_help=True)


def _fail(message: str) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


@app.command("show")
def show(
    source: str = typer.Argument(
        ..., metavar="FILE", help="A YAML/JSON graph spec, or a topology string (debate:m=3,r=2)."
    ),
    png: str | None = typer.Option(
        None, "--png", metavar="OUT", help="Also render a PNG with Graphviz `dot`."
    ),
    dot: bool = typer.Option(False, "--dot", help="Print Graphviz DOT instead of Mermaid."),
) -> None:
    """Print the topology as Mermaid text (nodes, edges, controller, selection)."""
    from thinktank.errors import MissingDependency, ThinktankError
    from thinktank.graphs.diagram import render_png, to_dot, to_mermaid
    from thinktank.graphs.topologies import load_graph

    try:
        spec = load_graph(source)
    except ThinktankError as exc:
        _fail(str(exc))
    typer.echo(to_dot(spec) if dot else to_mermaid(spec), nl=False)
    if png is None:
        return
    try:
        out = render_png(spec, png)
    except MissingDependency as exc:
        _fail(str(exc))
    except (OSError, RuntimeError) as exc:
        _fail(f"could not render {png}: {exc}")
    typer.echo(f"wrote {out}", err=True)
