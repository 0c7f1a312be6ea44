"""The optimizer's own spend: a hard budget over every evaluation, crash-safe accounting."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.optimize import landscape as L
from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.pricing import Price
from thinktank.optimize import (
    BudgetTooSmall,
    CallPrice,
    EvalStore,
    FunctionObjective,
    RunnerObjective,
    SearchSpace,
    Study,
    StudyConfig,
    TaskOutcome,
)

STRONG_ONLY = L.SPACE_YAML.replace("model: [cheap, strong]", "model: [strong]").replace(
    "model: [cheap]", "model: [strong]"
)


def test_the_budget_is_never_exceeded(tmp_path: Path) -> None:
    budget = 0.05
    with L.simulator() as (sim, pool):
        result = Study(
            SearchSpace.from_yaml(STRONG_ONLY),
            L.tasks(),
            RunnerObjective({"strong": pool["strong"]}, environment_options=L.NO_TOOLS),
            StudyConfig(algo="random", seed=5, max_evals=9, budget_usd=budget),
            out_dir=tmp_path,
            plots=False,
        ).run_sync()
        served = L.spent_on(sim, "opt-strong")  # what the endpoint really served, priced
    assert result.stop_reason == "budget"
    assert result.evaluations >= 1
    assert served <= budget
    assert result.spent_usd <= budget + 1e-9
    assert served == pytest.approx(result.spent_usd, rel=1e-6)
    assert all(t.total_spent <= budget + 1e-9 for t in result.trials)


def test_a_budget_too_small_for_one_evaluation_refuses_before_spending(tmp_path: Path) -> None:
    with L.simulator() as (sim, pool):
        study = Study(
            L.space(),
            L.tasks(),
            RunnerObjective(pool, environment_options=L.NO_TOOLS),
            StudyConfig(algo="tpe", budget_usd=0.0005, prune=False),
            out_dir=tmp_path,
            plots=False,
        )
        with pytest.raises(BudgetTooSmall) as err:
            study.run_sync()
        assert sim.stats()["requests"] == 0
    msg = str(err.value)
    assert "nothing was spent" in msg and "Raise --budget-usd to at least" in msg


def _pricey(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
    # costs far more than its estimate: only the hard limit can stop it
    return TaskOutcome(task_id=task.id, status="ok", correct=True, cost=0.004)


def test_an_evaluation_the_hard_limit_cuts_short_is_not_cached_and_ends_the_study() -> None:
    space = SearchSpace.from_yaml("nodes: [{id: s, role: solver, n: [1, 2, 3, 4]}]")
    tasks = [Task(id=f"t{i}", kind="math", prompt=f"q{i}", expected="1") for i in range(5)]
    cheap = {"m": CallPrice(Price(input=0.001, output=0.001), default_max_tokens=10)}
    study = Study(
        space,
        tasks,
        FunctionObjective(_pricey, prices=cheap),
        StudyConfig(algo="random", max_evals=4, budget_usd=0.03, concurrency=1),
    )
    result = study.run_sync()
    assert result.stop_reason == "budget"
    assert [t.status for t in result.trials][-1] == "interrupted"
    assert result.spent_usd <= 0.03 + 1e-9
    done = [t for t in result.trials if t.status == "complete"]
    assert len(done) == 1 and done[0].spent == pytest.approx(0.02)


def test_pending_charges_of_a_killed_session_stay_charged_at_their_worst_case(
    tmp_path: Path,
) -> None:
    path = tmp_path / "evals.db"
    first = EvalStore(path)
    hold = first.hold("study", 0.5, "task cut short by a crash")
    done = first.hold("study", 0.5, "task finished")
    first.settle(done, 0.01)
    first.close()  # the process dies with `hold` pending
    second = EvalStore(path)
    assert second.adopt_stale("study") == (1, 0.5)
    assert second.spent("study") == pytest.approx(0.51)
    assert second.adopt_stale("study") == (0, 0.0)
    assert hold


def test_judge_calls_count_in_the_spend_not_in_a_graphs_cost(tmp_path: Path) -> None:
    from thinktank.evals.tasks.evaluators import LLMMatchConfig
    from thinktank.llm.pricing import reset_prices, set_price
    from thinktank.llm.testing import FunctionModel

    def solve(req: Any) -> str:
        i = str(req.messages[-1]["content"]).split("site ")[1].split("?")[0]
        return f"Answer: the northern shore of site {i}"  # accepted only by the judge

    judged: list[Any] = []

    def judge(req: Any) -> str:
        judged.append(req)
        return '{"equivalent": true, "reason": "same shore"}'

    tasks = [
        Task(
            id=f"p{i}",
            kind="text",
            prompt=f"Where is site {i}?",
            expected=f"north shore {i}",
            evaluator=LLMMatchConfig(),
        )
        for i in range(4)
    ]
    set_price("pricey-judge", input=50.0, output=200.0)
    try:
        evaluator = RunnerObjective(
            {"m": FunctionModel(solve, model_id="free-solver")},
            judge=FunctionModel(judge, model_id="pricey-judge"),
        )
        space = SearchSpace.from_yaml("nodes: [{id: s, role: solver, model: [m], n: [1, 2]}]")
        config = StudyConfig(algo="grid", budget_usd=1.0, prune=False)
        result = Study(space, tasks, evaluator, config, out_dir=tmp_path, plots=False).run_sync()
    finally:
        reset_prices()
    done = [t for t in result.trials if t.status == "complete"]
    assert len(done) == 2 and all(t.accuracy == 1.0 and t.cost == 0.0 for t in done)
    assert len(judged) == 8  # every answer of both graphs went to the judge
    assert result.spent_usd > 0  # what judging cost is spent and journalled
    with sqlite3.connect(tmp_path / "evals.db") as db:
        (journal,) = db.execute("SELECT SUM(amount) FROM spend WHERE pending = 0").fetchone()
    assert journal == pytest.approx(result.spent_usd)
