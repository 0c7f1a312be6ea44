"""``thinktank models``: the embedded model, the simulator, and endpoint checks."""

from __future__ import annotations

import typer

app = typer.Typer(help="Model endpoints: serve the embedded model, run the simulator, ping an endpoint.", no_args_is_help=True)
