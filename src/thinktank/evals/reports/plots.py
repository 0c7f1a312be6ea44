"""Report plots (matplotlib, Agg backend): accuracy vs cost and accuracy vs samples.

One line per graph *family*: the members of a sweep (``best_of_n[n=1]`` …
``best_of_n[n=8]``) form a curve ordered by x; a graph outside a sweep is one
point. Error bars are the 95% Wilson intervals. Plots come back as PNG bytes, which
the HTML report embeds as base64 and ``report.md`` links as files.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from thinktank.errors import MissingDependency
from thinktank.evals.reports.metrics import GraphStats


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependency("plots need matplotlib: pip install 'thinktank[report]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _families(stats: Sequence[GraphStats]) -> dict[str, list[GraphStats]]:
    out: dict[str, list[GraphStats]] = {}
    for s in stats:
        if s.accuracy is not None:
            out.setdefault(s.family or s.label, []).append(s)
    return out


def _point_label(s: GraphStats) -> str:
    if s.params:
        return ",".join(f"{k}={v}" for k, v in s.params.items())
    return ""


def accuracy_plot(stats: Sequence[GraphStats], x: str) -> tuple[bytes, str] | None:
    """PNG of accuracy against ``x`` (``"cost"`` or ``"samples"``) and the x-axis label.

    With every cost at $0 (no prices known, e.g. a simulator or a local model) the
    cost plot uses tokens per task instead and says so on its axis. ``None`` when
    no graph has a judged result.
    """
    fams = _families(stats)
    if not fams:
        return None
    if x == "cost":
        free = all(s.cost_mean == 0 for f in fams.values() for s in f)
        key = (lambda s: s.tokens_mean) if free else (lambda s: s.cost_mean)
        xlabel = (
            "tokens per task (all costs are $0: no prices known)" if free else "cost per task (USD)"
        )
    elif x == "samples":
        key, xlabel = (lambda s: s.samples_mean), "answer samples per task"
    else:
        raise ValueError(f"x must be 'cost' or 'samples', not {x!r}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        for name, members in fams.items():
            members = sorted(members, key=key)
            xs = [key(s) for s in members]
            ys = [100 * (s.accuracy or 0.0) for s in members]
            err = [
                [100 * ((s.accuracy or 0) - s.ci_low) for s in members],
                [100 * (s.ci_high - (s.accuracy or 0)) for s in members],
            ]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name, linewidth=1.5)
            for s, px, py in zip(members, xs, ys, strict=True):
                text = _point_label(s)
                if text:
                    ax.annotate(
                        text, (px, py), textcoords="offset points", xytext=(4, 4), fontsize=7
                    )
        if x == "samples" or (x == "cost" and len({key(s) for f in fams.values() for s in f}) > 2):
            positive = [key(s) for f in fams.values() for s in f if key(s) > 0]
            if positive and max(positive) / max(min(positive), 1e-12) > 20:
                ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy (%), 95% Wilson interval")
        ax.set_ylim(-2, 102)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"Accuracy vs {'cost' if x == 'cost' else 'samples'}")
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue(), xlabel
