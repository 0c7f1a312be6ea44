"""The selection gap (mean@1, selected, oracle@k, efficiency): exact on hand-made
records, and on the simulator equal to the analytic values within its intervals."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.evals.reports.report import load_report_data, render_markdown
from thinktank.evals.reports.selection import selection_gap
from thinktank.evals.runs.run_types import TaskRecord, TaskStatus
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet


def rec(i: int, candidates: list[bool], selected: bool, status: str = "ok") -> TaskRecord:
    return TaskRecord(
        graph="g", task_id=f"t{i}", status=TaskStatus(status), correct=selected,
        sample_correct=candidates,
    )  # fmt: skip


def test_figures_on_hand_made_records() -> None:
    records = [
        rec(0, [True, False, False, False], True),  # a right one found
        rec(1, [True, False, False, False], False),  # a right one missed
        rec(2, [False] * 4, False),  # nothing to find
        rec(3, [True] * 4, True),
        rec(4, [True, True], True, status="error"),  # errors are not counted
        TaskRecord(graph="g", task_id="t5", status=TaskStatus.OK, correct=True),  # no candidates
    ]
    gap = selection_gap(records)
    assert gap is not None and gap.tasks == 4 and gap.candidates_mean == 4
    assert gap.mean.value == pytest.approx((0.25 + 0.25 + 0 + 1) / 4)
    assert gap.selected.value == pytest.approx(0.5)
    assert gap.oracle.value == pytest.approx(0.75)
    assert gap.efficiency is not None
    assert gap.efficiency.value == pytest.approx((0.5 - 0.375) / (0.75 - 0.375))
    for e in (gap.mean, gap.selected, gap.oracle, gap.efficiency):
        assert e.low <= e.value <= e.high
    # a selector worse than a random pick has a negative efficiency
    worse = selection_gap([rec(0, [True, False], False), rec(1, [True, True], True)])
    assert worse is not None and worse.efficiency is not None and worse.efficiency.value < 0


def test_no_gap_when_every_task_s_candidates_agree() -> None:
    gap = selection_gap([rec(0, [True, True], True), rec(1, [False, False], False)])
    assert gap is not None and gap.efficiency is None
    assert selection_gap([TaskRecord(graph="g", task_id="t", status=TaskStatus.OK)]) is None


P = [0.3, 0.5, 0.7, 0.9]
N, K = 80, 5


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, TaskSet]]:
    qs = TaskSet.generate(N, seed=3, p_correct=P)
    for q in qs.questions:  # one distractor: majority vote over 5 has no ties
        q.wrong_answers = [str(int(q.answer) + 1)]
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as server:
        yield f"openai:sim@{server.base_url}", qs


def _majority(p: float) -> float:
    return sum(math.comb(K, j) * p**j * (1 - p) ** (K - j) for j in range(K // 2 + 1, K + 1))


def test_simulated_figures_match_their_analytic_values(
    sim: tuple[str, TaskSet], tmp_path: Path
) -> None:
    model, qs = sim
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in qs.questions]
    suite = dump_tasks(tasks, tmp_path / "tasks.jsonl")
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        ["eval", "--suite", str(suite), "--graph", f"best_of_n:n={K}", "--model", model,
         "--out", str(out), "-c", "8", "--seed", "2"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = load_report_data(out, plots=False)
    (stats,) = data.stats
    gap = stats.selection
    assert gap is not None and gap.tasks == N and gap.candidates_mean == K
    ps = [P[i % len(P)] for i in range(N)]
    expected = {
        "mean": sum(ps) / N,
        "selected": sum(_majority(p) for p in ps) / N,
        "oracle": sum(1 - (1 - p) ** K for p in ps) / N,
    }
    for name, value in expected.items():
        est = getattr(gap, name)
        assert est.low <= value <= est.high, (name, value, est)
    eff = (expected["selected"] - expected["mean"]) / (expected["oracle"] - expected["mean"])
    assert gap.efficiency is not None and gap.efficiency.low <= eff <= gap.efficiency.high
    text = render_markdown(data)
    assert "## Selection" in text and gap.oracle.fmt() in text
