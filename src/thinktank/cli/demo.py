"""``thinktank demo``: what test-time scaling buys, then the plumbing end to end.

Part 1 runs the bundled math suite through ``single``, a best-of-n sweep, adaptive
self-consistency and best-of-n with a verifier against the loopback simulator
serving that suite (see :func:`thinktank.demo.run_simulated`), and writes
the report with its accuracy-vs-cost curves; every place it is shown says the model
is simulated and the prices illustrative.

Part 2, on the configured endpoint (``THINKTANK_MODEL``), or the embedded SmolLM2-135M
model when none is set (started here and stopped after), it runs one math task
with the ``python`` tool, one SWE instance in a Docker sandbox and one web
question over the loopback corpus, each with ``single`` and ``best_of_n`` + a
verifier, with a memory bank in the run directory (see :mod:`thinktank.demo`).
It prints which model it used, what each graph got, and where the report is. The
embedded model is a plumbing check, and the output says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

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
    simulated: bool = typer.Option(
        True, "--simulated/--no-simulated", help="Part 1: the math suite on the simulator."
    ),
    plumbing: bool = typer.Option(
        True, "--plumbing/--no-plumbing", help="Part 2: math, SWE and web tasks on a real model."
    ),
) -> None:
    """Test-time scaling on a simulated model (math suite, report with accuracy-vs-cost curves),
    then a math, an SWE and a web task through two graphs with memory on a real model."""
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from thinktank.demo import DemoResult, run_demo
    from thinktank.errors import ThinktankError
    from thinktank.llm import local
    from thinktank.llm.config import default_model_spec, load_model

    console = Console()
    t0 = time.perf_counter()
    # skipped lesson replies are counted in the summary; one warning line each is noise here
    logging.getLogger("thinktank.learning.learn").setLevel(logging.ERROR)
    run_dir = out or Path("runs") / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    spec = model or default_model_spec()
    embedded = spec.startswith("local:")
    name = spec.partition(":")[2]
    started_here = plumbing and embedded and local.running_local_server(name) is None

    async def run_plumbing() -> DemoResult:
        chat = await asyncio.to_thread(load_model, spec, default_max_tokens=max_tokens)
        async with chat:
            return await run_demo(
                chat, run_dir / "plumbing", samples=samples, max_steps=max_steps,
                max_tokens=max_tokens, progress=False if simulated else None,
            )  # fmt: skip

    async def go() -> DemoResult | None:
        # Part 2 waits on the embedded model (one core) while part 1 keeps the other busy,
        # so part 2 starts at once, in the background, and is shown after part 1.
        background = asyncio.create_task(run_plumbing()) if plumbing else None
        try:
            if simulated:
                await _simulated_part(console, run_dir / "simulated")
            if background is None:
                return None
            console.rule("[bold]Part 2 — the plumbing, end to end, on a real model[/bold]")
            if embedded:
                console.print(
                    f"No endpoint configured (THINKTANK_MODEL is unset): using the embedded "
                    f"model [bold]{spec}[/bold] — a plumbing check, not a capable model."
                )
            else:
                source = "--model" if model else "THINKTANK_MODEL"
                console.print(
                    f"Using the configured model [bold]{escape(spec)}[/bold] (from {source})."
                )
            console.print(
                "Tasks: 1 math (python tool), 1 SWE instance (Docker sandbox), 1 web question "
                f"(loopback corpus) × graphs: single, best_of_{samples} + verifier; memory on → "
                f"{escape(str(run_dir / 'plumbing'))}"
            )
            if not simulated:
                return await background
            with console.status("running (started during part 1)…"):
                return await background
        finally:
            if background is not None and not background.done():
                background.cancel()
                with contextlib.suppress(BaseException):
                    await background

    try:
        result = asyncio.run(go())
    except ThinktankError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        if "docker" in str(exc).lower() or "sandbox" in str(exc).lower():
            console.print("The demo runs code in Docker: try `thinktank sandbox doctor --fix`.")
        raise typer.Exit(1) from None
    finally:
        if started_here and not keep_server:
            local.stop_local_server(name)
    if result is None:
        console.print(f"Done in {time.perf_counter() - t0:.0f} s.")
        return

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


async def _simulated_part(console: Any, out: Path) -> None:
    """Part 1: the math suite on the simulator; prints the sweep and where its report is."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from thinktank.demo import SIM_GRAPHS, SIM_PRICE, run_simulated
    from thinktank.errors import ThinktankError

    console.rule("[bold]Part 1 — test-time scaling, on a SIMULATED model[/bold]")
    console.print(
        "The bundled math suite (word problems + Game-of-24 hands) served by thinktank's "
        "loopback simulator: each question is answered right with a configured probability, "
        "else with a plausible wrong answer, and verifiers err at set rates "
        "(`thinktank models simulate --suite math` serves the same). Graphs: "
        + ", ".join(escape(g) for g in SIM_GRAPHS)
        + f"; illustrative prices ${SIM_PRICE[0]:.2f} / ${SIM_PRICE[1]:.2f} per 1M tokens → "
        + escape(str(out))
    )
    try:
        result = await run_simulated(out, progress=False)
    except ThinktankError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    table = Table(
        "graph", "accuracy [95% CI]", "cost/task (illustrative)", "samples/task",
        title=f"math suite, {result.tasks} tasks, on a SIMULATED model",
    )  # fmt: skip
    for r in result.rows:
        acc = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.0f}%"
        table.add_row(
            escape(r["graph"]), f"{acc} [{100 * r['ci_low']:.0f}–{100 * r['ci_high']:.0f}]",
            f"${r['cost_per_task']:.5f}", f"{r['samples']:.1f}",
        )  # fmt: skip
    console.print(table)
    console.print(Panel(result.note, title="simulated, not measured", border_style="cyan"))
    console.print(
        f"Report (simulated, accuracy-vs-cost curves): "
        f"[bold]{escape(str(result.report or result.out_dir))}[/bold] "
        f"({result.seconds:.0f} s)"
    )
