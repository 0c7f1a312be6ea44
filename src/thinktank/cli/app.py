"""The ``thinktank`` command line (typer + rich).

Each command group lives in its own module and is registered here; modules import
their heavy dependencies inside the commands so ``thinktank --version`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

from thinktank import __version__

app = typer.Typer(
    name="thinktank",
    help="Multi-agent, tool-using test-time scaling.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

# name -> module defining a typer app called ``app``
_GROUPS: dict[str, str] = {
    "models": "thinktank.cli.models",
    "graph": "thinktank.cli.graph",
    "sandbox": "thinktank.cli.sandbox",
    "memory": "thinktank.cli.memory",
    "swe": "thinktank.cli.swe",
}

# name -> module defining a plain command function called ``command``
# (or "module:function" for a module holding several commands)
_COMMANDS: dict[str, str] = {
    "demo": "thinktank.cli.demo",
    "eval": "thinktank.cli.eval:eval_command",
    "run": "thinktank.cli.run",
    "report": "thinktank.cli.eval:report_command",
    "optimize": "thinktank.cli.optimize",
    "serve": "thinktank.cli.serve",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thinktank {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Multi-agent, tool-using test-time scaling."""


for _name, _module in _GROUPS.items():
    app.add_typer(importlib.import_module(_module).app, name=_name)

for _name, _module in _COMMANDS.items():
    _path, _, _attr = _module.partition(":")
    app.command(_name)(getattr(importlib.import_module(_path), _attr or "command"))


def main() -> None:
    app()
