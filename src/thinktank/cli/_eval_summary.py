"""What ``thinktank eval`` prints when a run ends: the results table, what was spent, and
what went wrong (truncations, the budget stop, errors and degraded tasks by cause)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape


def print_summary(console: Any, summary: Any, runner: Any = None) -> None:
    """The end of a run: ``runner`` (when given) says what the accuracies are over (a
    memory split's held-out tasks) and which are oracle memory results."""
    from rich.table import Table

    from thinktank.evals.runs.experiments import describe_hook
    from thinktank.evals.runs.sweep import reads_memory

    held_out = bool(runner is not None and runner.learn_tasks)
    learning = describe_hook(runner.on_task_done) if runner is not None else None
    oracle = (learning or {}).get("judge") == "oracle"
    entries = {g.label: g for g in runner.graphs} if runner is not None else {}
    t = Table(title="results" + (" (held-out tasks of the memory split)" if held_out else ""))
    for h in ("graph", "accuracy"):
        t.add_column(h)
    for label, acc in summary.accuracy.items():
        g = entries.get(label)
        mark = (
            " (oracle memory)" if oracle and g and reads_memory(g.spec) and not g.memory_off else ""
        )
        t.add_row(escape(label + mark), "–" if acc is None else f"{acc:.1%}")
    console.print(t)
    line = (
        f"{summary.recorded} recorded, {summary.skipped} already done, {summary.errors} errors, "
        + (f"{summary.degraded} degraded, " if summary.degraded else "")
        + f"spent ${summary.spent_usd:.4f} in {summary.wall_s:.1f}s"
        + (
            f" (the run: ${summary.spent_before_usd + summary.spent_usd:.4f} of its "
            f"${summary.budget_usd:g} budget)"
            if summary.budget_usd is not None and summary.spent_before_usd > 0
            else ""
        )
    )
    console.print(line)
    if summary.truncated:
        which = ", ".join(f"{g} {n}" for g, n in sorted(summary.truncated_by_graph.items()))
        console.print(
            f"[yellow]{summary.truncated} task(s) truncated[/yellow] by their graph's budget "
            f"({escape(which)}; samples refused): their results are not what the graph gives "
            "unbounded; the report marks them"
        )
    if summary.stop_reason == "budget":
        console.print(
            f"[yellow]stopped: the run budget is spent[/yellow] ({summary.not_started} not started, "
            f"{summary.interrupted} interrupted); continue with --resume and a larger "
            "--budget-usd (the run's total over all sessions, not an addition)"
        )
    if summary.errors:
        console.print(f"[yellow]{summary.errors} task(s) errored[/yellow], by cause:")
        print_causes(console, summary.error_causes)
        console.print("once the cause is fixed, rerun them with --resume --retry-errors")
    if summary.degraded:
        console.print(
            f"[yellow]{summary.degraded} task(s) degraded[/yellow] (selection fell back to a "
            "majority vote), by cause:"
        )
        print_causes(console, summary.degraded_causes)


def print_causes(console: Any, causes: dict[str, int]) -> None:
    for cause, n in sorted(causes.items(), key=lambda kv: -kv[1]):
        console.print(f"  {n} task{'s' if n > 1 else ''}: {escape(cause)}", soft_wrap=True)
