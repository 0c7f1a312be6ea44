"""``thinktank demo``: a small mixed task set end to end, with a report to open.

On the configured endpoint (``THINKTANK_MODEL``), or the embedded SmolLM2-135M
model when none is set (started here and stopped after), it runs one math task
with the ``python`` tool, one SWE instance in a Docker sandbox and one web
question over the loopback corpus, each with ``single`` and ``best_of_n`` + a
verifier, with a memory bank in the run directory (see :mod:`thinktank.evals.demo`).
It prints which model it used, what each graph got, and where the report is. The
embedded model is a plumbing check, and the output says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path

import typer

PLUMBING_NOTE = (
    "The embedded model (SmolLM2-135M-Instruct, 4-bit, on CPU) is a plumbing check: "
    "it shows thinktank finding a model, starting its server, running agents with tools in "
    "Docker sandboxes and on a loopback web corpus, sampling, verifying, judging with the "
    "SWE harness, learning into memory and writing the report, end to end. It is not a "
    "capable model: expect it to get these tasks wrong. For real answers set THINKTANK_MODEL, "
    "e.g. THINKTANK_MODEL=openai:gpt-4o-mini with OPENAI_API_KEY, or "
    "THINKTANK_MODEL=vllm:NAME@http://host:8000/v1."
)


def command(
    out: Path | None = typer.Option(
        None, "--out", help="Run directory (default: runs/demo-<date>-<time>)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model to use instead of THINKTANK_MODEL / the embedded one."
    ),
    samples: int = typer.Option(2, "--samples", "-n", min=1, max=8, help="N of best_of_n."),
    max_steps: int = typer.Option(3, "--max-steps", min=1, help="Agent turns per sample."),
    max_tokens: int = typer.Option(96, "--max-tokens", min=16, help="Tokens per model reply."),
    keep_server: bool = typer.Option(
        False, "--keep-server", help="Leave the embedded server running if this command started it."
    ),
) -> None:
    """Run a math, an SWE and a web task through two graphs with memory; write the report."""
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from thinktank.errors import ThinktankError
    from thinktank.evals.demo import run_demo
    from thinktank.llm import local
    from thinktank.llm.config import default_model_spec, load_model

    console = Console()
    t0 = time.perf_counter()
    # skipped lesson replies are counted in the summary; one warning line each is noise here
    logging.getLogger("thinktank.memory.learn").setLevel(logging.ERROR)
    spec = model or default_model_spec()
    embedded = spec.startswith("local:")
    name = spec.partition(":")[2]
    started_here = False
    if embedded:
        console.print(
            f"No endpoint configured (THINKTANK_MODEL is unset): using the embedded model "
            f"[bold]{spec}[/bold] — a plumbing check, not a capable model."
        )
        started_here = local.running_local_server(name) is None
    else:
        source = "--model" if model else "THINKTANK_MODEL"
        console.print(f"Using the configured model [bold]{escape(spec)}[/bold] (from {source}).")
    run_dir = out or Path("runs") / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    console.print(
        "Tasks: 1 math (python tool), 1 SWE instance (Docker sandbox), 1 web question "
        f"(loopback corpus) × graphs: single, best_of_{samples} + verifier; memory on → "
        f"{escape(str(run_dir))}"
    )

    async def go() -> object:
        chat = load_model(spec, default_max_tokens=max_tokens)
        async with chat:
            return await run_demo(
                chat, run_dir, samples=samples, max_steps=max_steps, max_tokens=max_tokens
            )

    try:
        result = asyncio.run(go())
    except ThinktankError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        if "docker" in str(exc).lower() or "sandbox" in str(exc).lower():
            console.print("The demo runs code in Docker: try `thinktank sandbox doctor --fix`.")
        raise typer.Exit(1) from None
    finally:
        if embedded and started_here and not keep_server:
            local.stop_local_server(name)

    from thinktank.evals.demo import DemoResult

    assert isinstance(result, DemoResult)
    table = Table("task", "graph", "result", "answer", "tokens", "time")
    for r in result.rows:
        why = escape(r["reason"].split(":")[0][:40])
        mark = "[green]right[/]" if r["correct"] else f"[red]wrong[/]: {why}"
        if r["status"] == "error":
            mark = f"[yellow]error[/]: {why}"
        answer = " ".join(r["answer"].split())
        table.add_row(
            r["task"].removeprefix("thinktank-fixtures__"), r["graph"], mark,
            escape(answer[:28] + ("…" if len(answer) > 28 else "")) or "-",
            str(r["tokens"]), f"{r['latency_s']:.0f} s",
        )  # fmt: skip
    console.print(table)
    right = sum(r["correct"] for r in result.rows)
    console.print(
        f"Model: {escape(result.model)} ({'embedded' if embedded else 'configured endpoint'}). "
        f"{right}/{len(result.rows)} right. Memory bank: {result.memory_items} item(s) in "
        f"{escape(str(Path(result.out_dir) / 'memory.sqlite'))}"
        + (
            f" ({result.memory_warnings} learning replies skipped)"
            if result.memory_warnings
            else ""
        )
        + "."
    )
    console.print(f"Report: [bold]{escape(str(result.report or result.out_dir))}[/bold]")
    console.print(f"Done in {time.perf_counter() - t0:.0f} s.")
    if embedded:
        console.print(Panel(PLUMBING_NOTE, title="about these results", border_style="yellow"))
