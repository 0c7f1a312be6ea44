"""``thinktank models``: the embedded model, the simulator, and endpoint checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from thinktank.llm.types import Completion

app = typer.Typer(
    help="Model endpoints: serve the embedded model, run the simulator, ping an endpoint.",
    no_args_is_help=True,
)


# --- the embedded model: serve-local, ping -----------------------------------------------


def _fail(message: str) -> NoReturn:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command("serve-local")
def serve_local(
    port: int | None = typer.Option(
        None, "--port", help="Port on 127.0.0.1 (default: a free one)."
    ),
    foreground: bool = typer.Option(
        True,
        "--foreground/--detach",
        help="Serve until Ctrl-C, or start a shared background server and return.",
    ),
    stop: bool = typer.Option(False, "--stop", help="Stop the shared background server and exit."),
) -> None:
    """Serve the embedded model (SmolLM2-135M, plumbing checks only) on loopback; prints the base URL."""
    import signal
    import time

    from rich.console import Console

    from thinktank.errors import ThinktankError
    from thinktank.llm import local

    err = Console(stderr=True)
    try:
        if stop:
            stopped = local.stop_local_server()
            err.print(
                "stopped the embedded model server"
                if stopped
                else "no embedded model server was running"
            )
            return
        if not foreground:
            server = local.ensure_local_server(port=port)
            typer.echo(server.base_url)
            err.print(
                f"model [bold]{server.model}[/bold], pid {server.pid}, log {server.log_path}; stop with --stop"
            )
            return
    except ThinktankError as exc:
        _fail(str(exc))
    # Handlers first, so a Ctrl-C at any point below still stops the server.
    for sig in (signal.SIGINT, signal.SIGTERM):  # also where SIGINT was inherited ignored
        signal.signal(sig, _raise_interrupt)
    server, shared = local.LocalServer(port=port), False
    try:
        server.start()
        shared = local.register_server(server)
        typer.echo(server.base_url)
        err.print(
            f"model [bold]{server.model}[/bold], pid {server.pid}, log {server.log_path}; Ctrl-C stops it"
        )
        while server.running:
            time.sleep(0.5)
        _fail(f"the server exited; log {server.log_path}:\n{server.log_tail()}")
    except ThinktankError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print("stopping")
    finally:
        if shared:
            local.unregister_server(server)
        server.stop()


@app.command()
def ping(
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model string (default: $THINKTANK_MODEL, else local:smollm2)."
    ),
    prompt: str = typer.Option(
        "Say hello in one short sentence.", "--prompt", "-p", help="The user message."
    ),
    max_tokens: int = typer.Option(64, "--max-tokens", help="Longest reply, in tokens."),
) -> None:
    """Send one chat request through thinktank's model layer; print latency, tokens and the reply."""
    import asyncio

    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from thinktank.errors import ThinktankError
    from thinktank.llm.config import default_model_spec, load_model

    spec = model or default_model_spec()

    async def once() -> tuple[Completion, str]:
        chat = load_model(spec)
        async with chat:
            out = await chat.generate([{"role": "user", "content": prompt}], max_tokens=max_tokens)
        return out[0], str(getattr(chat, "base_url", ""))

    try:
        completion, base_url = asyncio.run(once())
    except ThinktankError as exc:
        _fail(str(exc))
    table = Table(show_header=False, box=None)
    table.add_row(
        "model", Text(f"{spec}  ({completion.model or '?'} at {base_url or 'in-process'})")
    )
    table.add_row("latency", f"{completion.usage.latency_s * 1000:.0f} ms")
    table.add_row(
        "tokens",
        f"{completion.usage.prompt_tokens} prompt + {completion.usage.completion_tokens} completion",
    )
    table.add_row("finish", completion.finish_reason)
    console = Console()
    console.print(table)
    console.print(Panel(Text(completion.text or "(empty reply)"), title="reply", expand=False))
    if spec.startswith("local:"):
        console.print(
            "[dim]the embedded server stays up for reuse; `thinktank models serve-local --stop` stops it[/dim]"
        )


# --- the simulator -----------------------------------------------------------------------


@app.command()
def simulate(
    port: int | None = typer.Option(
        None, "--port", help="Port on 127.0.0.1 (0 or unset: a free one, or the config's)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Simulator config as YAML or JSON (SimulatorConfig fields)."
    ),
    latency_ms: float | None = typer.Option(
        None, "--latency-ms", help="Fixed latency per request, in milliseconds."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of every random choice."),
) -> None:
    """Run the OpenAI-compatible simulator (scripts, latency, faults, synthetic tasks); prints the base URL."""
    from pydantic import ValidationError

    from thinktank.llm.simulator import load_config, serve_forever

    try:
        cfg = load_config(config, port=port, latency_ms=latency_ms, seed=seed)
    except (OSError, ValueError, ValidationError) as exc:
        _fail(f"bad simulator config: {exc}")
    try:
        serve_forever(cfg, announce=True)
    except KeyboardInterrupt:
        pass
