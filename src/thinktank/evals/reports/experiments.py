"""Report sections of the experiments an eval run can be: a memory ablation, repeated
runs, a memory split.

* **Memory ablation** (``--ablation``): each graph that reads memory ran beside its
  memory-off arm on the same tasks with the same seeds. Per pair: accuracy off and on
  over the tasks both judged, the paired gain (mean of on − off per task) with a 95%
  percentile-bootstrap interval over tasks, and the tasks memory improved and
  *worsened* (right without memory, wrong with it), worsened ones named.
* **Run-to-run variance** (``--repeat K``): per graph, the accuracy of each repetition
  (own seed), their mean, sample standard deviation and range.
* **Memory split** (``--memory-split``): accuracy on the tasks learned on beside the
  held-out tasks evaluated with memory read-only (the report's headline figures are the
  held-out ones).

Every section is a :class:`Section`, rendered alike in Markdown and HTML.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from thinktank.evals.runs.run_types import RunConfig, TaskRecord
from thinktank.evals.runs.sweep import GraphEntry, reads_memory

RESAMPLES = 2000


@dataclass
class Section:
    """A titled table with an explanatory note."""

    id: str
    title: str
    note: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def evaluated(records: Sequence[TaskRecord], config: RunConfig) -> list[TaskRecord]:
    """The records the headline figures are over: all, or a memory split's held-out part."""
    if config.memory_split is None:
        return list(records)
    learned = set(config.learn_tasks)
    return [r for r in records if r.task_id not in learned]


def base_label(entry: GraphEntry, entries: dict[str, GraphEntry]) -> str:
    """The label of the graph given that ``entry`` repeats or ablates (itself if none)."""
    seen = entry
    while seen.variant_of and seen.variant_of in entries and seen.variant_of != seen.label:
        seen = entries[seen.variant_of]
    return seen.label


def _judged(records: Sequence[TaskRecord]) -> dict[str, bool]:
    return {
        r.task_id: bool(r.correct) for r in records if r.status != "error" and r.correct is not None
    }


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _oracle(label: str, config: RunConfig) -> str:
    return label + (" (oracle memory)" if config.oracle else "")


def paired_gain(
    off: dict[str, bool],
    on: dict[str, bool],
    *,
    order: dict[str, int] | None = None,
    seed: int = 0,
) -> dict[str, object]:
    """Paired figures of two arms over the tasks both judged (see the module docstring);
    tasks listed in ``order`` (suite order), else by id. The interval's ends are
    bootstrap means, so they are values the gain can take on these tasks."""
    rank = order or {}
    tasks = sorted(set(off) & set(on), key=lambda t: (rank.get(t, len(rank)), t))
    diff = np.array([float(on[t]) - float(off[t]) for t in tasks])
    out: dict[str, object] = {"tasks": len(tasks)}
    if not tasks:
        return out
    idx = np.random.default_rng(seed).integers(0, len(tasks), size=(RESAMPLES, len(tasks)))
    boot = diff[idx].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975], method="inverted_cdf")
    out.update(
        off=sum(off[t] for t in tasks) / len(tasks),
        on=sum(on[t] for t in tasks) / len(tasks),
        gain=float(diff.mean()),
        low=float(lo),
        high=float(hi),
        improved=[t for t in tasks if on[t] and not off[t]],
        worsened=[t for t in tasks if off[t] and not on[t]],
    )
    return out


def ablation_section(records: Sequence[TaskRecord], config: RunConfig) -> Section | None:
    """The memory ablation's pairs (``None`` when the run had no memory-off arm)."""
    arms = [g for g in config.graphs if g.memory_off and g.variant_of]
    if not arms:
        return None
    by: dict[str, list[TaskRecord]] = {}
    order: dict[str, int] = {}
    for r in evaluated(records, config):
        by.setdefault(r.graph, []).append(r)
        order.setdefault(r.task_id, r.task_index)
    sec = Section(
        id="ablation",
        title="Memory ablation",
        note=(
            "Each graph that reads memory beside the same graph with memory off, on the same "
            "tasks with the same seeds. Gain = mean over the tasks both judged of (on − off), "
            "with a 95% paired bootstrap interval; worsened = right without memory, wrong with "
            "it." + (" Lessons were judged with the suite's labels (oracle)." if config.oracle else "")
        ),
        headers=["graph", "tasks", "memory off", "memory on", "gain [95% CI]", "improved",
                 "worsened", "worsened tasks"],
    )  # fmt: skip
    for arm in arms:
        label = _oracle(arm.variant_of, config)
        off, on = _judged(by.get(arm.label, [])), _judged(by.get(arm.variant_of, []))
        g = paired_gain(off, on, order=order)
        if not g["tasks"]:
            sec.rows.append([label, "0", "–", "–", "–", "–", "–", ""])
            continue
        worse: list[str] = g["worsened"]  # type: ignore[assignment]
        better: list[str] = g["improved"]  # type: ignore[assignment]
        shown = ", ".join(worse[:8]) + (f" … (+{len(worse) - 8})" if len(worse) > 8 else "")
        sec.rows.append(
            [
                label,
                str(g["tasks"]),
                _pct(g["off"]),  # type: ignore[arg-type]
                _pct(g["on"]),  # type: ignore[arg-type]
                f"{g['gain']:+.1%} [{g['low']:+.1%} – {g['high']:+.1%}]",
                str(len(better)),
                str(len(worse)),
                shown,
            ]
        )
    return sec


def variance_section(records: Sequence[TaskRecord], config: RunConfig) -> Section | None:
    """Accuracy across repetitions per graph (``None`` without ``--repeat``)."""
    if not any(g.repeat > 1 for g in config.graphs):
        return None
    entries = {g.label: g for g in config.graphs}
    groups: dict[tuple[str, bool], list[GraphEntry]] = {}
    for g in config.graphs:
        groups.setdefault((base_label(g, entries), g.memory_off), []).append(g)
    by: dict[str, list[TaskRecord]] = {}
    for r in evaluated(records, config):
        by.setdefault(r.graph, []).append(r)
    sec = Section(
        id="variance",
        title="Run-to-run variance",
        note=(
            "The same graph run again with other seeds (--repeat): accuracy of each "
            "repetition, their mean, sample standard deviation and range."
            + (" Memory was learned with the suite's labels (oracle)." if config.oracle else "")
        ),
        headers=["graph", "repetitions", "accuracy of each", "mean", "sd", "range"],
    )
    for (base, off), members in groups.items():
        accs = []
        for m in sorted(members, key=lambda e: e.repeat):
            judged = _judged(by.get(m.label, []))
            if judged:
                accs.append(sum(judged.values()) / len(judged))
        if len(members) < 2:
            continue
        label = base + (" [memory off]" if off else "")
        if not off and reads_memory(members[0].spec):
            label = _oracle(label, config)
        if not accs:
            sec.rows.append([label, str(len(members)), "–", "–", "–", "–"])
            continue
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        sec.rows.append(
            [
                label,
                str(len(accs)),
                ", ".join(_pct(a) for a in accs),
                _pct(statistics.fmean(accs)),
                f"{sd:.1%}",
                f"{_pct(min(accs))}–{_pct(max(accs))}",
            ]
        )
    return sec


def split_section(records: Sequence[TaskRecord], config: RunConfig) -> Section | None:
    """Accuracy on the tasks learned on vs the held-out ones (``None`` without a split)."""
    if config.memory_split is None:
        return None
    learned = set(config.learn_tasks)
    sec = Section(
        id="memory-split",
        title="Memory split",
        note=(
            f"Memory learned on {len(learned)} tasks first (learning split); the other tasks "
            "were then run without learning (held-out split). The summary's figures, cost "
            "included, are the held-out ones; what the learning split cost is here."
            + (" Lessons were judged with the suite's labels (oracle)." if config.oracle else "")
        ),
        headers=["graph", "learning split", "its cost", "held-out split", "its cost"],
    )
    by: dict[str, list[TaskRecord]] = {}
    for r in records:
        by.setdefault(r.graph, []).append(r)
    for g in config.graphs:
        recs = by.get(g.label, [])
        judged = _judged(recs)
        cells = []
        for inside in (True, False):
            part = {t: v for t, v in judged.items() if (t in learned) == inside}
            cost = sum(r.cost for r in recs if (r.task_id in learned) == inside)
            acc = f"{_pct(sum(part.values()) / len(part))} of {len(part)}" if part else "–"
            cells += [acc, f"${cost:.4f}"]
        label = _oracle(g.label, config) if reads_memory(g.spec) and not g.memory_off else g.label
        sec.rows.append([label, *cells])
    return sec


def memory_line(c: RunConfig) -> str:
    """`` · learning: MODE, judged by …`` for a run that learned into memory."""
    if not c.learning:
        return ""
    who = "the suite's labels (ORACLE)" if c.oracle else "the model (self-judge)"
    split = f" · memory split: learned on {len(c.learn_tasks)} tasks" if c.memory_split else ""
    return f" · learning: {c.learning.get('mode', '?')}, judged by {who}{split}"


def experiment_sections(records: Sequence[TaskRecord], config: RunConfig) -> list[Section]:
    """Every section this run's settings call for, in report order."""
    made = (
        split_section(records, config),
        ablation_section(records, config),
        variance_section(records, config),
    )
    return [s for s in made if s is not None]
