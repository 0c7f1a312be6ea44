"""``thinktank eval``, ``run`` and ``report`` through typer's CliRunner, on the simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet

FIXTURES = Path(__file__).parent / "fixtures"
cli = CliRunner()


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, TaskSet]]:
    qs = TaskSet.generate(6, seed=5, p_correct=[0.9, 0.5])
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as server:
        yield f"openai:sim@{server.base_url}", qs


@pytest.fixture
def suite(tmp_path: Path, sim: tuple[str, TaskSet]) -> Path:
    tasks = [
        Task(id=q.id, kind="text", prompt=q.question, expected=q.answer) for q in sim[1].questions
    ]
    return dump_tasks(tasks, tmp_path / "tasks.jsonl")


def run(*args: str) -> tuple[int, str]:
    res = cli.invoke(app, list(args))
    return res.exit_code, res.output


def test_eval_writes_records_and_report(
    tmp_path: Path, sim: tuple[str, TaskSet], suite: Path
) -> None:
    out = tmp_path / "run"
    code, text = run(
        "eval", "--suite", str(suite), "--graph", "single", "--graph", "best_of_n:n=1,2",
        "--model", sim[0], "--out", str(out), "-c", "4",
    )  # fmt: skip
    assert code == 0, text
    assert "best_of_n[n=2]" in text and "18 recorded" in text and "report.html" in text
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    code, text = run("report", str(out), "--no-html")
    assert code == 0 and "report.md" in text


def test_bad_input_is_explained(tmp_path: Path, sim: tuple[str, TaskSet], suite: Path) -> None:
    base = ["--model", sim[0], "--out", str(tmp_path / "x")]
    code, text = run("eval", "--suite", "nope", "--graph", "single", *base)
    assert code == 1 and "valid suites: math, game24, code, swe, web" in text
    code, text = run("eval", "--suite", str(suite), "--graph", "bestofn:n=2", *base)
    assert code == 1 and "valid topologies: single, best_of_n" in text
    bad = str(FIXTURES / "tasks_bad_field.jsonl")
    code, text = run("eval", "--suite", bad, "--graph", "single", *base)
    assert code == 1 and "line 2" in text and "field 'kind'" in text
    code, text = run("eval", "--suite", str(suite), "--graph", "single", "--retry-errors", *base)
    assert code == 1 and "--resume" in text
    code, text = run("report", str(tmp_path))
    assert code == 1 and "not a run directory" in text


def test_another_config_is_refused_with_out_explained(
    tmp_path: Path, sim: tuple[str, TaskSet], suite: Path
) -> None:
    out = str(tmp_path / "run")
    common = ["--suite", str(suite), "--model", sim[0], "--out", out, "--limit", "2", "--no-report"]
    assert run("eval", *common, "--graph", "single")[0] == 0
    code, text = run("eval", *common, "--graph", "single")
    assert code == 1 and "--resume" in text
    code, text = run("eval", *common, "--graph", "best_of_n:n=2", "--resume")
    assert code == 1 and "another configuration" in text and "--out DIR" in text
    code, text = run("eval", *common[:-3], "--graph", "single", "--resume", "--no-report")
    assert code == 0 and "4 recorded, 2 already done" in text  # --limit may grow on resume


def test_out_of_budget_stops_cleanly_and_reports(
    tmp_path: Path, sim: tuple[str, TaskSet], suite: Path
) -> None:
    set_price("sim", input=100.0, output=100.0)
    try:
        out = tmp_path / "run"
        code, text = run(
            "eval", "--suite", str(suite), "--graph", "single:max_tokens=64", "--model", sim[0],
            "--out", str(out), "--budget-usd", "0.05", "-c", "1",
        )  # fmt: skip
    finally:
        reset_prices()
    # answers cut at 64 tokens may not parse: such tasks are errors, and then the exit code is
    # 3; else 4: the run budget stopped the run before every task ran
    assert code == (3 if "task(s) errored, by cause:" in text else 4), text
    assert "run budget is spent" in text and "--resume and a larger --budget-usd" in text
    md = (out / "report.md").read_text()
    assert "run budget was spent" in md
    spent = float(re.search(r"spent: \$([0-9.]+)", md).group(1))  # type: ignore[union-attr]
    assert 0 < spent <= 0.05
    # --budget-usd is the run's total: resuming with the same budget runs nothing more
    set_price("sim", input=100.0, output=100.0)
    try:
        again = ["eval", "--suite", str(suite), "--graph", "single:max_tokens=64", "--model",
                 sim[0], "--out", str(out), "-c", "1", "--resume", "--no-report"]  # fmt: skip
        code, text = run(*again, "--budget-usd", "0.05")
        assert "0 recorded" in text and "run budget is spent" in text, text
        # without --budget-usd the recorded budget holds (it is not dropped)
        code, text = run(*again)
        flat = " ".join(text.split())
        assert "budget: $0.05 for the run (recorded" in flat, text
        # the budget is nearly spent: either nothing more runs (exit 4) or it is refused (1)
        assert (code == 4 and "0 recorded" in flat) or (code == 1 and "already spent" in flat)
        # a total below what the run spent is refused with the fix
        code, text = run(*again, "--budget-usd", "0.001")
        flat = " ".join(text.split())
        assert code == 1 and "already spent" in flat and "pass a larger one" in flat, text
        code, text = run(*again, "--budget-usd", "1")
    finally:
        reset_prices()
    flat = " ".join(text.split())
    assert "run budget is spent" not in flat and "of its $1 budget" in flat, text
    with RunDatabase.open(out) as db:
        assert db.count() == 6 and db.run_spent_usd() <= 1.0


def test_run_answers_one_question_with_a_trace(sim: tuple[str, TaskSet]) -> None:
    q = sim[1].questions[0]
    code, text = run(
        "run", q.question, "--graph", "best_of_n:n=3,select=verifier", "--model", sim[0],
        "--kind", "math", "--expected", q.answer,
    )  # fmt: skip
    assert code == 0, text
    for part in ("answer:", "agents", "solver:1:2", "verifier", "candidates (selection: verifier)"):
        assert part in text
    code, text = run("run", q.question, "--graph", "single", "--model", sim[0], "--json")
    assert code == 0 and '"trace"' in text
    code, text = run("run", "hi", "--graph", "best_of_n:n=1,2", "--model", sim[0])
    assert code == 1 and "one graph" in text
