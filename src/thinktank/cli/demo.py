"""``thinktank demo`` (interim): one prompt answered end to end through the model layer.

With no endpoint configured (``THINKTANK_MODEL`` unset) it starts the embedded
SmolLM2-135M model, asks it a question through :func:`thinktank.llm.load_model`
and prints which model answered, the samples, tokens and latency. The embedded
model is a plumbing check, and the output says so. The full demo (a collaboration
graph solving tasks) replaces this command later.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from thinktank.llm.types import Completion

DEFAULT_PROMPT = "What is the capital of France? Answer in one short sentence."

PLUMBING_NOTE = (
    "The embedded model (SmolLM2-135M-Instruct, 4-bit, on CPU) is a plumbing check: "
    "it shows thinktank finding a model, starting its server, sending requests, "
    "sampling n answers and counting tokens end to end. It is not a capable model "
    "and its answers are often wrong. For real answers set THINKTANK_MODEL, e.g. "
    "THINKTANK_MODEL=openai:gpt-4o-mini with OPENAI_API_KEY, or "
    "THINKTANK_MODEL=vllm:NAME@http://host:8000/v1."
)


def command(
    prompt: str = typer.Option(DEFAULT_PROMPT, "--prompt", "-p", help="The question to ask."),
    samples: int = typer.Option(3, "--samples", "-n", min=1, max=16, help="Answers to sample."),
    max_tokens: int = typer.Option(64, "--max-tokens", help="Longest answer, in tokens."),
    keep_server: bool = typer.Option(
        False, "--keep-server", help="Leave the embedded server running if this command started it."
    ),
) -> None:
    """Answer one prompt end to end (embedded model when no endpoint is configured)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from thinktank.errors import ThinktankError
    from thinktank.llm import local
    from thinktank.llm.config import default_model_spec, load_model

    console = Console()
    spec = default_model_spec()
    embedded = spec.startswith("local:")
    name = spec.partition(":")[2]
    started_here = False
    if embedded:
        console.print(
            f"No endpoint configured (THINKTANK_MODEL is unset): using the embedded model [bold]{spec}[/bold]."
        )
        started_here = local.running_local_server(name) is None
    else:
        console.print(f"Using the configured model [bold]{spec}[/bold] (from THINKTANK_MODEL).")

    async def run() -> tuple[list[Completion], str, float]:
        t0 = time.perf_counter()
        chat = load_model(spec)
        base_url = str(getattr(chat, "base_url", ""))
        async with chat:
            out = await chat.generate(
                [{"role": "user", "content": prompt}],
                n=samples,
                temperature=0.7 if samples > 1 else None,
                max_tokens=max_tokens,
            )
        return out, base_url, time.perf_counter() - t0

    try:
        completions, base_url, wall = asyncio.run(run())
    except ThinktankError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        if embedded and started_here and not keep_server:
            local.stop_local_server(name)

    served = completions[0].model if completions else "?"
    console.print(
        Text(
            f"Answered by {spec} (served as {served!r} at {base_url or 'in-process'}).",
            style="bold",
        )
    )
    console.print(Text(f"Q: {prompt}"))
    table = Table("#", "answer", "tokens in+out", "latency", "finish")
    for i, c in enumerate(completions, 1):
        u = c.usage
        table.add_row(
            str(i),
            Text(c.text.strip() or "(empty)"),
            f"{u.prompt_tokens}+{u.completion_tokens}",
            f"{u.latency_s:.2f} s",
            c.finish_reason,
        )
    console.print(table)
    total = sum(c.usage.total_tokens for c in completions)
    console.print(
        f"{len(completions)} samples, {total} tokens, {wall:.1f} s wall (including start-up)."
    )
    if embedded:
        console.print(Panel(PLUMBING_NOTE, title="about this answer", border_style="yellow"))
