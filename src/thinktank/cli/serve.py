"""``thinktank serve``: graphs as models behind an OpenAI-compatible endpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from thinktank.cli.options import (
    describe_models,
    fail,
    parse_models,
    start_tracing,
    stop_tracing,
)


def command(
    graph: list[str] = typer.Option(
        ...,
        "--graph",
        help="GRAPH or NAME=GRAPH: a topology[:k=v,...] or SPEC.yaml, served as model NAME "
        "(default: the topology string, or the spec's name). Repeatable.",
    ),
    model: list[str] | None = typer.Option(None, "--model", help="Model or ALIAS=MODEL."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to bind (anything but loopback: set --api-key)."
    ),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0: a free one)."),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="THINKTANK_SERVE_API_KEY",
        help="Bearer token clients must send; also read from THINKTANK_SERVE_API_KEY "
        "(default: none).",
        show_default=False,
    ),
    max_concurrency: int = typer.Option(
        32, "--max-concurrency", min=1, help="Graph runs at once; more requests queue."
    ),
    max_queue: int = typer.Option(
        1024, "--max-queue", min=0, help="Requests that may queue; beyond, 429 at once."
    ),
    budget_usd: float | None = typer.Option(
        None, "--budget-usd", min=0, help="Default dollar budget per request."
    ),
    kind: str = typer.Option(
        "text", "--kind", help="math, choice, text or code: how answers are voted."
    ),
    store: Path | None = typer.Option(
        None, "--store", help="SQLite file keeping served runs (default: in memory)."
    ),
    keep: int = typer.Option(1000, "--keep", min=0, help="Served runs kept, newest (0: all)."),
    keepalive: float = typer.Option(
        5.0, "--keepalive", min=0.01, help="Seconds between SSE keep-alive comments."
    ),
    idle_timeout: int = typer.Option(
        30,
        "--idle-timeout",
        min=1,
        help="Seconds an idle keep-alive connection stays open (longer than clients' "
        "pools keep theirs, so they close first).",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn's log level."),
    gc_threshold: int = typer.Option(
        10_000,
        "--gc-threshold",
        min=0,
        help="New objects that start a garbage collection (0: Python's 700). Higher costs "
        "less CPU per request.",
    ),
) -> None:
    """Serve graphs as OpenAI models: /v1/models and /v1/chat/completions.

    The model name selects the graph; the reply is its answer, and `usage` counts every token the run spent.

    Per-request budget: header X-Thinktank-Budget-Usd (or metadata.budget_usd). A run's trace: GET /v1/thinktank/runs/{response id}.

    Exit codes: 0 stopped (Ctrl-C); 1 bad input.
    """
    from rich.console import Console
    from rich.markup import escape

    from thinktank.errors import ThinktankError
    from thinktank.llm.pricing import load_env_prices
    from thinktank.serve.config import ServeConfig
    from thinktank.serve.request import KINDS

    if kind not in KINDS:
        fail(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    err = Console(stderr=True, soft_wrap=True)
    try:
        config = ServeConfig(
            host=host, port=port, api_key=api_key or None, max_concurrency=max_concurrency,
            max_queue=max_queue, budget_usd=budget_usd, kind=kind,
            store=None if store is None else str(store), keep=keep, keepalive_s=keepalive,
            idle_timeout_s=idle_timeout, gc_threshold=gc_threshold,
        )  # fmt: skip
        load_env_prices()
        models = parse_models(model)
        from thinktank.serve.registry import GraphRegistry

        registry = GraphRegistry.build(graph, models)
    except (ThinktankError, ValueError) as exc:
        fail(str(exc))
    typer.echo(describe_models(models))
    if not config.loopback and config.api_key is None:
        err.print(
            f"[yellow]warning:[/yellow] serving on {escape(host)} without an API key: anyone who "
            "reaches this port can spend your model budget (set --api-key or "
            "THINKTANK_SERVE_API_KEY)"
        )

    def ready(base_url: str) -> None:
        typer.echo(f"serving {', '.join(registry.names())} at {base_url} (Ctrl-C stops)")

    import signal

    from thinktank.serve.server import serve_forever

    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler found at start: make that an interrupt for both, so a stop exits 0
    signal.signal(signal.SIGTERM, _interrupt)
    start_tracing()  # each request's run is a trace
    try:
        serve_forever(registry, config, on_ready=ready, log_level=log_level)
    except OSError as exc:  # the port is taken, the host is not ours, ...
        fail(f"cannot serve on {host}:{port}: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        stop_tracing()
    err.print("stopped")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
