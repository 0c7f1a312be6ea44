"""The live progress display of an eval run (rich), silent when output is not a terminal.

Shows done/total, accuracy so far, spend so far (against the run budget) and the
ETA. :class:`Progress` keeps the counters either way, so the runner's summary and
tests read the same numbers; only the drawing depends on the terminal.
"""

from __future__ import annotations

import time
from typing import Any

from thinktank.evals.runs.run_types import TaskRecord


class Progress:
    """Counters of a run, drawn with rich when ``enabled`` (default: stderr is a TTY)."""

    def __init__(
        self,
        total: int,
        *,
        done: int = 0,
        correct: int = 0,
        judged: int = 0,
        budget_usd: float | None = None,
        enabled: bool | None = None,
        console: Any = None,
    ) -> None:
        self.total = total
        self.done = done
        self.correct = correct
        self.judged = judged
        self.errors = 0
        self.spent_usd = 0.0
        self.budget_usd = budget_usd
        self.started = time.monotonic()
        self._new = 0
        self._console = console
        self._enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None

    def start(self) -> Progress:
        from rich.console import Console

        console = self._console or Console(stderr=True)
        enabled = console.is_terminal if self._enabled is None else self._enabled
        if not enabled:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("[bold]eval[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            "eval", total=self.total, completed=self.done, stats=self._stats()
        )
        return self

    def _stats(self) -> str:
        acc = "–" if self.accuracy is None else f"{self.accuracy:.1%}"
        spend = f"${self.spent_usd:.4f}"
        if self.budget_usd is not None:
            spend += f"/${self.budget_usd:g}"
        err = f"  errors {self.errors}" if self.errors else ""
        return f"acc {acc}  spent {spend}{err}"

    def update(self, rec: TaskRecord, *, spent_usd: float | None = None) -> None:
        """Count one recorded result."""
        self.done += 1
        self._new += 1
        if rec.status == "error":
            self.errors += 1
        if rec.correct is not None and rec.status != "error":
            self.judged += 1
            self.correct += bool(rec.correct)
        self.spent_usd = spent_usd if spent_usd is not None else self.spent_usd + rec.cost
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, stats=self._stats())

    def eta_s(self) -> float | None:
        """Seconds left at this session's pace (``None`` before the first result)."""
        if not self._new:
            return None
        rate = self._new / max(1e-9, time.monotonic() - self.started)
        return (self.total - self.done) / rate

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, stats=self._stats())
            self._bar.stop()
            self._bar = None
