"""``thinktank models``: the embedded model, the simulator, and endpoint checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

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
    suite: str | None = typer.Option(
        None,
        "--suite",
        help="Serve a suite's questions with known answers: math, game24, web, or a task file "
        "(code and swe cannot be simulated).",
    ),
    suite_opt: list[str] | None = typer.Option(
        None, "--suite-opt", help="Suite loader option key=value, as given to `eval`."
    ),
    accuracy: str = typer.Option(
        "beta:2,1.25",
        "--accuracy",
        help="With --suite: per-question p(correct), drawn from beta:A,B or uniform:LO,HI "
        "(seeded by --seed), or one probability for every question.",
    ),
    accuracies: str | None = typer.Option(
        None, "--accuracies", help="With --suite: YAML/JSON file of task id: p(correct) overrides."
    ),
    distractor: float = typer.Option(
        3.0,
        "--distractor",
        min=0,
        help="With --suite: weight of the most common wrong answer against 1 for each of the "
        "other two.",
    ),
    verifier_tpr: float | None = typer.Option(
        None, "--verifier-tpr", min=0, max=1, help="P(a verifier accepts a right answer)."
    ),
    verifier_fpr: float | None = typer.Option(
        None, "--verifier-fpr", min=0, max=1, help="P(a verifier accepts a wrong answer)."
    ),
    name: str = typer.Option("sim", "--name", help="Model name in the printed --model string."),
    write_tasks: str | None = typer.Option(
        None, "--write-tasks", help="With --suite: also write the served questions to this file."
    ),
) -> None:
    """Run the OpenAI-compatible simulator (scripts, latency, faults, synthetic tasks); prints the base URL.

    With --suite it serves a bundled suite's questions and known answers: each sample is
    right with the question's p(correct), else a plausible wrong answer. It prints the base
    URL, then the --model string for `thinktank eval --suite ...` on stdout.
    """
    from pydantic import ValidationError

    from thinktank.llm.simulator import load_config, serve_forever

    try:
        cfg = load_config(config, port=port, latency_ms=latency_ms, seed=seed)
    except (OSError, ValueError, ValidationError) as exc:
        _fail(f"bad simulator config: {exc}")
    if suite is None:
        extra = {"--suite-opt": suite_opt, "--accuracies": accuracies, "--write-tasks": write_tasks}
        given = [flag for flag, value in extra.items() if value]
        if given:
            _fail(f"{', '.join(given)} only apply with --suite")
        try:
            serve_forever(cfg, announce=True)
        except KeyboardInterrupt:
            pass
        return
    cfg, summary = _suite_config(
        cfg, suite, suite_opt, accuracy, accuracies, distractor, verifier_tpr, verifier_fpr,
        cfg.seed, write_tasks,
    )  # fmt: skip
    _serve_suite(cfg, suite, name, summary)


def _suite_config(
    cfg: Any,
    suite: str,
    suite_opt: list[str] | None,
    accuracy: str,
    accuracies: str | None,
    distractor: float,
    verifier_tpr: float | None,
    verifier_fpr: float | None,
    seed: int,
    write_tasks: str | None,
) -> tuple[Any, str]:
    """The simulator config serving ``suite``, and a line saying how it is set up."""
    import yaml
    from pydantic import ValidationError

    from thinktank.errors import ThinktankError
    from thinktank.evals.tasks.simulated import (
        AccuracySpread,
        SuiteSimulation,
        describe,
        load_accuracies,
        simulator_config,
    )
    from thinktank.evals.tasks.suites import load_suite

    options: dict[str, Any] = {}
    for item in suite_opt or []:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            _fail(f"--suite-opt takes key=value, not {item!r}")
        options[key] = yaml.safe_load(raw)
    try:
        simulation = SuiteSimulation(
            accuracy=AccuracySpread.parse(accuracy),
            accuracies=load_accuracies(accuracies) if accuracies else {},
            seed=seed,
            distractor=distractor,
            verifier_tpr=verifier_tpr,
            verifier_fpr=verifier_fpr,
        )
        tasks = load_suite(suite, **options)
        cfg = simulator_config(tasks, simulation, cfg)
        questions = cfg.synthetic.tasks
        if write_tasks:
            questions.dump(write_tasks)
    except (ThinktankError, ValidationError, OSError) as exc:
        _fail(str(exc))
    synth = cfg.synthetic
    summary = (
        f"{describe(questions, simulation)}; wrong answers: the first {distractor:g}x as "
        f"likely as each other; verifier TPR {synth.verifier_tpr:g}, FPR {synth.verifier_fpr:g}"
    )
    return cfg, summary


def _serve_suite(cfg: Any, suite: str, name: str, summary: str) -> None:
    """Bind, print the base URL and the --model string (stdout) and the set-up (stderr), serve."""
    from rich.console import Console

    from thinktank._asgi import bind_socket
    from thinktank.llm.simulator import serve_forever

    sock = bind_socket(cfg.host, cfg.port)  # listening now: clients queue until it serves
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{host}:{sock.getsockname()[1]}/v1"
    typer.echo(url)
    typer.echo(f"openai:{name}@{url}")
    err = Console(stderr=True)
    err.print(f"simulating suite [bold]{escape(suite)}[/bold]: {escape(summary)}")
    err.print(
        "run it with: "
        + escape(
            f'thinktank eval --suite {suite} --graph single --graph "best_of_n:n=1,2,4,8" '
            f"--model openai:{name}@{url} --out runs/{_slug(suite)}-sim"
        )
    )
    err.print(
        "costs: the simulator's model has no price; set one with THINKTANK_PRICES "
        f"(a YAML file with `{escape(name)}: {{input: 2.5, output: 10}}`, dollars per 1M "
        "tokens). Accuracies measured here are what this configuration produces, not a "
        "real model's. Ctrl-C stops it."
    )
    try:
        serve_forever(cfg, fd=sock.detach())
    except KeyboardInterrupt:
        pass


def _slug(text: str) -> str:
    import re
    from pathlib import PurePath

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", PurePath(text).stem) or "suite"
