"""What ``thinktank optimize`` reads besides the suite (the confirmation and held-out
splits) and prints at the end (the best graph, how it was declared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape


def parse_split(value: str, flag: str) -> float | str:
    """``--confirm`` / ``--holdout``: a fraction of the tasks (``0.2``) or a task file /
    suite name (anything that is not a number)."""
    from thinktank.errors import ConfigError

    try:
        fraction = float(value)
    except ValueError:
        return value
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(
            f"{flag} takes a fraction of the tasks in [0, 1) (0 turns it off) or a task file, "
            f"not {value}"
        )
    return fraction


def split_dev(
    tasks: list[Any], confirm: float | str, holdout: float | str, seed: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """The dev, confirmation and held-out tasks: fractions carved out of ``tasks`` by
    ``seed``, task files loaded as they are."""
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.optimize import split_tasks

    split = split_tasks(
        tasks,
        confirm=confirm if isinstance(confirm, float) else 0.0,
        holdout=holdout if isinstance(holdout, float) else 0.0,
        seed=seed,
    )
    conf = load_suite(confirm) if isinstance(confirm, str) else split.confirm
    hold = load_suite(holdout) if isinstance(holdout, str) else split.holdout
    return split.dev, conf, hold


def print_result(
    console: Any, result: Any, out: Path, suite: str, pool: dict[str, str], report: Path
) -> None:
    console.print(
        f"stopped ({result.stop_reason}) after {result.evaluations} evaluations, "
        f"{len(result.trials)} proposals; spent ${result.spent_usd:.4f}"
    )
    b = result.best
    if b is None:
        console.print("[yellow]no graph was evaluated on the whole dev set[/yellow]")
        return
    console.print(f"best: acc {b.accuracy:.3f}, ${b.cost:.5f}/task — {escape(b.description)}")
    print_selection(console, result.selection)
    console.print(
        f"files: {out}/best.yaml, pareto.json, pareto.png, progress.png, search_log.jsonl, {report.name}"
    )
    models = " ".join(f"--model {a}={m}" for a, m in pool.items())
    console.print(
        f"run it: thinktank eval --suite {suite} --graph {out}/best.yaml {models} --out DIR"
    )


def print_selection(console: Any, sel: Any) -> None:
    """How the best was declared: its accuracy on each split, the re-evaluation and the
    held-out check (in yellow when a step did not happen or was cut short)."""
    c = sel.best if sel is not None else None
    if c is None:
        return
    console.print(escape(f"  dev: {c.dev.accuracy.fmt()} on {c.dev.tasks} tasks"))
    if c.combined is not None:
        lead = sel.candidate(sel.leader)
        how = "the dev leader, confirmed"
        if sel.changed and lead is not None and lead.combined is not None:
            how = f"chosen over the dev leader (trial {lead.number}: {lead.combined.accuracy.value:.1%})"
        console.print(
            escape(
                f"  dev + confirmation: {c.combined.accuracy.fmt()} on {c.combined.tasks} tasks, {how}"
            )
        )
    style = None if sel.status == "confirmed" else "yellow"
    console.print(escape(f"  selection: {sel.status} — {sel.reason}"), style=style)
    if c.holdout is not None and sel.holdout_status == "evaluated":
        console.print(
            escape(
                f"  held-out: {c.holdout.accuracy.fmt()} on {c.holdout.tasks} tasks "
                "(never used to choose)"
            )
        )
    else:
        console.print(
            escape(f"  held-out: {sel.holdout_status} — {sel.holdout_reason}"), style="yellow"
        )


__all__ = ["parse_split", "print_result", "print_selection", "split_dev"]
