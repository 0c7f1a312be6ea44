"""The study's plots (matplotlib, headless): the Pareto front and the search progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thinktank.errors import MissingDependency
from thinktank.optimize.results import EVALUATED, StudyResult, TrialRecord


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependency("plots need matplotlib: pip install 'thinktank[report]'") from exc
    return plt


def _ticks(n: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n)


def _save(plt: Any, fig: Any, path: str | Path, axes: list[Any], *, legend: bool = False) -> Path:
    """Grid on every axis (and a legend), lay out, write the PNG, free the figure."""
    for ax in axes:
        ax.grid(alpha=0.3)
        if legend:
            ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def progress_points(trials: list[TrialRecord]) -> list[tuple[int, float, float, float]]:
    """After each new evaluation: (evaluations, dollars spent, dollars the evaluations cost
    — cached ones included —, best score so far)."""
    out: list[tuple[int, float, float, float]] = []
    best = float("-inf")
    count, worth = 0, 0.0
    for t in sorted(trials, key=lambda r: r.number):
        if t.status in EVALUATED and t.score is not None:
            best = max(best, t.score)
        if t.evaluation is not None:
            count = t.evaluation
            worth += (t.cost or 0.0) * t.tasks
            if best > float("-inf"):
                out.append((count, t.total_spent, worth, best))
    return out


def comparison_plot(
    runs: list[tuple[str, StudyResult]], path: str | Path, *, target: float | None = None
) -> Path:
    """Best score so far vs evaluations for several studies (an algorithm vs random search)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, result in runs:
        pts = progress_points(result.trials)
        if pts:
            ax.step([p[0] for p in pts], [p[3] for p in pts], where="post", label=label)
    if target is not None:
        ax.axhline(target, color="tab:gray", linestyle=":", label="final best")
    ax.set_xlabel("evaluations (distinct graphs)")
    ax.set_ylabel("best score so far")
    return _save(plt, fig, path, [ax], legend=True)


def pareto_plot(result: StudyResult, path: str | Path) -> Path:
    """Accuracy vs cost per task of every fully evaluated graph, the front as a line;
    graphs their per-task budget truncated are crosses, apart from the front."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    seen: dict[str, TrialRecord] = {}
    for t in result.trials:
        if t.status in EVALUATED and t.key and t.key not in seen and t.accuracy is not None:
            seen[t.key] = t
    pts = list(seen.values())
    ax.scatter(
        [t.cost or 0.0 for t in pts],
        [t.accuracy or 0.0 for t in pts],
        s=18,
        alpha=0.5,
        color="tab:gray",
        label="evaluated graphs",
    )
    cut = {t.key: t for t in result.trials if t.status == "truncated" and t.accuracy is not None}
    if cut:
        ax.scatter(
            [t.cost or 0.0 for t in cut.values()],
            [t.accuracy or 0.0 for t in cut.values()],
            marker="x",
            s=30,
            color="tab:orange",
            label="truncated by its per-task budget (not ranked)",
        )
    front = result.pareto
    ax.plot(
        [t.cost or 0.0 for t in front],
        [t.accuracy or 0.0 for t in front],
        "o-",
        color="tab:blue",
        label="Pareto front (dev)",
    )
    _dev_bars(ax, front)
    _held_out(ax, result)
    if result.best is not None:
        ax.scatter(
            [result.best.cost or 0.0],
            [result.best.accuracy or 0.0],
            marker="*",
            s=180,
            color="tab:red",
            zorder=5,
            label="best",
        )
    ax.set_xlabel("cost per task (USD)")
    ax.set_ylabel("accuracy (dev; bars: intervals)")
    ax.xaxis.set_major_locator(_ticks(5))
    ax.set_title(f"{result.name}: accuracy vs cost ({result.algo})")
    return _save(plt, fig, path, [ax], legend=True)


def _dev_bars(ax: Any, trials: list[TrialRecord]) -> None:
    """The dev accuracy intervals of the front's graphs as error bars."""
    known = [t for t in trials if t.accuracy_low is not None and t.accuracy_high is not None]
    if not known:
        return
    acc = [t.accuracy or 0.0 for t in known]
    ax.errorbar(
        [t.cost or 0.0 for t in known],
        acc,
        yerr=[
            [a - (t.accuracy_low or 0.0) for a, t in zip(acc, known, strict=True)],
            [(t.accuracy_high or 0.0) - a for a, t in zip(acc, known, strict=True)],
        ],
        fmt="none",
        ecolor="tab:blue",
        alpha=0.4,
        capsize=2,
    )


def _held_out(ax: Any, result: StudyResult) -> None:
    """Each graph run on the held-out tasks: a hollow diamond with its interval at its dev
    cost, joined to its dev accuracy by a dotted line (the drop from dev to held-out)."""
    sel = result.selection
    if sel is None:
        return
    done = [c for c in sel.candidates if c.holdout is not None]
    for i, c in enumerate(done):
        assert c.holdout is not None
        h, x = c.holdout.accuracy, c.dev.cost
        ax.plot([x, x], [c.dev.accuracy.value, h.value], ":", color="tab:purple", alpha=0.6)
        ax.errorbar(
            [x],
            [h.value],
            yerr=[[h.value - h.low], [h.high - h.value]],
            fmt="D",
            mfc="none",
            color="tab:purple",
            capsize=3,
            label="held-out (after the choice)" if i == 0 else None,
        )


def progress_plot(result: StudyResult, path: str | Path) -> Path:
    """Best score so far vs evaluations (left) and vs dollars spent (right)."""
    plt = _pyplot()
    pts = progress_points(result.trials)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8), sharey=True)
    if pts:
        ev, usd, _, best = zip(*pts, strict=True)
        a1.step(ev, best, where="post", color="tab:blue", label="best so far")
        a2.step(usd, best, where="post", color="tab:green")
        scored = [t for t in result.trials if t.evaluation is not None and t.score is not None]
        a1.scatter(
            [t.evaluation for t in scored],
            [t.score for t in scored],
            s=10,
            color="tab:gray",
            alpha=0.5,
            label="each evaluation",
        )
        a1.legend(loc="lower right", fontsize=8)
    a1.set_xlabel("evaluations (distinct graphs)")
    a1.set_ylabel("best score so far")
    a2.set_xlabel("spent (USD)")
    fig.suptitle(f"{result.name}: search progress ({result.algo}, stop: {result.stop_reason})")
    return _save(plt, fig, path, [a1, a2])
