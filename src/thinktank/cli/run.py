"""``thinktank run``: answer one question with one graph and print the trace summary."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from thinktank.cli.options import (
    FAILED_STATUSES,
    TASKS_FAILED,
    describe_models,
    describe_reply_cap,
    fail,
    parse_models,
    start_tracing,
    stop_tracing,
)


def command(
    question: str = typer.Argument(..., help="The question to answer."),
    graph: str = typer.Option("single", "--graph", help="Topology[:k=v,...] or SPEC.yaml."),
    model: list[str] | None = typer.Option(None, "--model", help="Model or ALIAS=MODEL."),
    kind: str = typer.Option("text", "--kind", help="math, choice, text or code (answer voting)."),
    expected: str | None = typer.Option(None, "--expected", help="Judge the answer against this."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the full RunResult as JSON."),
) -> None:
    """Answer one question with one graph and print the trace summary.

    Exit codes: 0 the run ended ok (or stopped by its budget, rounds or
    CEO); 1 bad input; 2 a command-line usage error; 3 the run ended in
    error or degraded (the failed calls are printed, grouped by cause).
    """
    from thinktank.cli._trace import print_trace
    from thinktank.errors import ThinktankError
    from thinktank.evals.runs.sweep import expand_graph
    from thinktank.evals.tasks.task import TASK_KINDS, Task
    from thinktank.graphs.compiler import RunResult
    from thinktank.llm.budget import Budget
    from thinktank.llm.pricing import load_env_prices

    if kind not in TASK_KINDS:
        fail(f"unknown kind {kind!r}; valid kinds: {', '.join(TASK_KINDS)}")
    try:
        load_env_prices()
        entries = expand_graph(graph)
        if len(entries) != 1:
            fail("`thinktank run` takes one graph, not a sweep; use `thinktank eval` for sweeps")
        task = Task(id="question", kind=kind, prompt=question, expected=expected)  # type: ignore[arg-type]
    except (ThinktankError, ValueError) as exc:
        fail(str(exc))
    typer.echo(describe_models(parse_models(model)), err=True)  # stderr: --json stays JSON
    typer.echo(describe_reply_cap(parse_models(model)), err=True)

    async def go() -> tuple[RunResult, Any]:
        from thinktank.agents.roles import is_function
        from thinktank.evals.tasks.evaluators import evaluate
        from thinktank.graphs import compile
        from thinktank.llm.config import load_model

        models = parse_models(model)
        loaded = (
            {k: load_model(v) for k, v in models.items()}
            if isinstance(models, dict)
            else load_model(models)
        )
        spec = entries[0].spec
        sandbox = None
        if any(is_function(n.role) for n in spec.nodes):  # what ctx.sandbox() opens
            from thinktank.sandboxes import DockerSandboxConfig

            sandbox = DockerSandboxConfig()
        g = compile(spec, models=loaded, sandbox=sandbox)
        res = await g.run(task, seed=seed, budget=_spec_budget(entries[0].spec, Budget))
        verdict = await evaluate(task, res.answer) if expected is not None else None
        for m in loaded.values() if isinstance(loaded, dict) else [loaded]:
            await m.aclose()
        return res, verdict

    import asyncio

    start_tracing()
    try:
        res, verdict = asyncio.run(go())
    except ThinktankError as exc:
        fail(str(exc))
    finally:
        stop_tracing()
    if as_json:
        typer.echo(res.model_dump_json(indent=2))
    else:
        print_trace(res, label=entries[0].label, verdict=verdict)
    if res.status in FAILED_STATUSES:
        _print_run_failure(res)
        raise typer.Exit(TASKS_FAILED)


def _print_run_failure(res: Any) -> None:
    """Why a run ended ``error`` or ``degraded``, and its failed calls grouped by cause (stderr)."""
    from rich.console import Console

    from thinktank.evals.runs.run_types import group_causes

    console = Console(stderr=True, soft_wrap=True)
    console.print(f"[red]{escape(res.status)}:[/red] {escape(res.error or 'no answer')}")
    failed = [o.error for o in res.trace.outputs if o.error]
    if failed:
        console.print("failed calls, by cause:")
        for n, cause in group_causes(failed):
            console.print(f"  {n} sample{'s' if n > 1 else ''}: {escape(cause)}")


def _spec_budget(spec: Any, budget_cls: Any) -> Any:
    b = spec.budget.model_dump()
    return budget_cls(**b, name="task") if any(v is not None for v in b.values()) else None
