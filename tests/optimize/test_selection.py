"""Declaring a best: the top candidates re-evaluated on more tasks, the held-out check.

On the simulator's lucky landscape (``tests/optimize/lucky.py``) the search's leader on
the dev set is the lucky graph; re-evaluation on the confirmation tasks must choose
the truly better one, and the held-out numbers are reported without feeding the
choice. On an analytic landscape with sampling noise, re-evaluation lowers how much
accuracy the declared best gives away, over many seeds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.optimize import lucky as K
from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.pricing import Price
from thinktank.optimize import (
    CallPrice,
    EvalStore,
    FunctionObjective,
    SearchSpace,
    Study,
    StudyConfig,
    StudyResult,
    TaskOutcome,
    load_result,
)
from thinktank.optimize.report import write_optimize_report
from thinktank.optimize.results import Candidate


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, str]]:
    with K.simulator() as (_, pool):
        yield pool


def lucky_study(
    pool: dict[str, str], out: Path | None, *, holdout: str = "held", **config: object
) -> Study:
    return K.study(pool, out, holdout=holdout, **config)


def by_model(result: StudyResult) -> dict[str, Candidate]:
    assert result.selection is not None
    return {K.model_of(c.description): c for c in result.selection.candidates}


@pytest.fixture(scope="module")
def lucky(
    sim: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[StudyResult, Path]:
    out = tmp_path_factory.mktemp("lucky")
    result = lucky_study(sim, out).run_sync()
    write_optimize_report(out)
    return result, out


def test_re_evaluation_chooses_the_truly_better_graph_over_the_lucky_dev_leader(
    lucky: tuple[StudyResult, Path],
) -> None:
    result, _ = lucky
    sel = result.selection
    assert sel is not None and result.best is not None and result.search_best is not None
    # the search alone would declare the lucky graph: 10/10 on the dev set
    assert K.model_of(result.search_best.description) == "lucky"
    assert result.search_best.accuracy == 1.0
    assert sel.candidate(sel.leader).description == result.search_best.description
    # re-evaluated on 30 more tasks, the sound graph is chosen on the 40 together
    assert K.model_of(result.best.description) == "sound" and sel.changed
    assert sel.status == "confirmed" and sel.confirm_tasks == 30
    c = by_model(result)
    lucky_c, sound, weak = c["lucky"], c["sound"], c["weak"]
    assert lucky_c.status == sound.status == "confirmed"
    assert sound.combined.tasks == 40 and sound.combined.accuracy.value == 0.8
    assert lucky_c.combined.accuracy.value == pytest.approx(19 / 40)
    # the paired difference (same 40 tasks) is clearly below zero for the lucky graph
    diff = lucky_c.vs_chosen
    assert diff.n == 40 and diff.value == pytest.approx(19 / 40 - 0.8) and diff.high < 0
    # the weak graph's dev interval does not reach the leader's: not re-evaluated
    assert weak.status == "excluded" and weak.confirm is None and "below" in weak.reason
    # spend: everything within the budget, the re-evaluation and held-out runs included
    assert 0 < sel.cost_usd and 0 < sel.holdout_cost_usd
    assert result.spent_usd <= 1.0


def test_held_out_accuracy_is_reported_with_intervals_and_the_lucky_graphs_drop(
    lucky: tuple[StudyResult, Path],
) -> None:
    result, out = lucky
    sel = result.selection
    assert sel is not None and sel.holdout_status == "evaluated" and sel.holdout_tasks == 20
    c = by_model(result)
    sound, lucky_c = c["sound"], c["lucky"]
    assert sound.holdout.accuracy.value == 0.8 and sound.holdout.tasks == 20
    assert sound.dev.accuracy.contains(sound.holdout.accuracy.value)
    # the lucky graph ran the held-out tasks too (budget allowing): 100% on dev, 30% held out
    assert lucky_c.holdout_status == "evaluated"
    assert lucky_c.dev.accuracy.value == 1.0 and lucky_c.holdout.accuracy.value == 0.3
    assert lucky_c.holdout.accuracy.high < lucky_c.dev.accuracy.low
    h = sound.holdout.accuracy
    assert 0.5 < h.low < 0.8 < h.high < 1.0  # Wilson, 16/20

    # the files: best.yaml is the chosen graph with its figures, the Pareto front and the
    # study summary carry the held-out numbers, the report shows dev vs held-out
    best = GraphSpec.load(out / "best.yaml")
    meta = best.metadata["optimizer"]
    assert K.model_of(best.description) == "sound"
    assert meta["holdout_accuracy"]["accuracy"] == 0.8 and meta["holdout_accuracy"]["tasks"] == 20
    assert meta["combined_accuracy"]["tasks"] == 40 and meta["selection"] == "confirmed"
    pareto = json.loads((out / "pareto.json").read_text())
    held = {K.model_of(p["description"]): p["holdout"] for p in pareto}
    assert held["lucky"]["accuracy"] == 0.3 and held["lucky"]["tasks"] == 20  # top of the front
    assert held.get("sound", {"low": h.low})["low"] == pytest.approx(h.low)
    back = load_result(out)
    assert back.selection == sel and back.best is not None and back.best.key == result.best.key
    report = (out / "report.md").read_text()
    assert "held-out (after the choice, never used to choose) | 20 | 80.0% [" in report
    assert "dev (searched on) | 10 | 80.0% [49.0%, 94.3%]" in report
    assert "The dev leader (trial" in report and "47.5% on dev + confirmation" in report
    assert "## Top candidates re-evaluated" in report and "excluded" in report
    assert "inside the dev interval" in report
    page = (out / "report.html").read_text()
    assert "<b>Selection: confirmed</b>" in page and "held-out (after the choice" in page
    pareto_section = report.split("## Pareto front")[1].split("##")[0]
    assert "held-out accuracy" in pareto_section and "30.0% [" in pareto_section
    assert "80.0% [58.4%, 91.9%] (20)" in pareto_section  # the best, on the front or below it
    assert (out / "pareto.png").stat().st_size > 0


def test_held_out_results_never_feed_the_choice(sim: dict[str, str]) -> None:
    """A held-out set on which the lucky graph is perfect and the sound one always wrong
    changes the held-out numbers and nothing else."""
    usual = lucky_study(sim, None).run_sync()
    flipped = lucky_study(sim, None, holdout="flipped").run_sync()
    assert usual.best is not None and flipped.best is not None
    assert flipped.best.key == usual.best.key and K.model_of(flipped.best.description) == "sound"
    a, b = usual.selection, flipped.selection
    assert a is not None and b is not None
    strip = {"holdout", "holdout_status", "holdout_reason"}
    assert [c.model_dump(exclude=strip) for c in a.candidates] == [
        c.model_dump(exclude=strip) for c in b.candidates
    ]
    assert (a.status, a.chosen, a.leader) == (b.status, b.chosen, b.leader)
    held = by_model(flipped)
    assert held["sound"].holdout.accuracy.value == 0.0
    assert held["lucky"].holdout.accuracy.value == 1.0


def test_without_re_evaluation_the_lucky_leader_is_declared_and_held_out_shows_its_drop(
    sim: dict[str, str], tmp_path: Path
) -> None:
    result = lucky_study(sim, tmp_path, top_k=0).run_sync()
    sel = result.selection
    assert sel is not None and result.best is not None
    assert sel.status == "off" and not sel.changed
    assert K.model_of(result.best.description) == "lucky"
    (only,) = sel.candidates
    assert only.confirm is None and only.holdout is not None
    assert only.dev.accuracy.value == 1.0 and only.holdout.accuracy.value == 0.3
    assert not only.dev.accuracy.contains(only.holdout.accuracy.value)
    write_optimize_report(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "**Selection: off**" in report
    assert "30.0% [14.5%, 51.9%] against 100.0% [72.2%, 100.0%] on the dev tasks" in report
    assert "**outside** the dev interval" in report


def test_the_cache_serves_every_step_so_nothing_runs_twice(
    sim: dict[str, str], tmp_path: Path
) -> None:
    first = lucky_study(sim, tmp_path).run_sync()
    again = lucky_study(sim, tmp_path).run_sync()  # the same study, run a second time
    counts = EvalStore(tmp_path / "evals.db").computed_counts()
    assert set(counts.values()) == {1}
    # 3 graphs x 10 dev, 2 candidates x 30 confirmation, 2 x 20 held out
    assert len(counts) == 3 * 10 + 2 * 30 + 2 * 20
    assert again.selection == first.selection
    assert again.spent_usd == pytest.approx(first.spent_usd)  # the second run spent nothing


# --- budgets ------------------------------------------------------------------------------

SPACE = SearchSpace.from_yaml("nodes: [{id: s, role: solver, model: [m], n: [1, 2, 3, 4, 5, 6]}]")
PRICES = {"m": CallPrice(Price(input=1.0, output=1.0), default_max_tokens=100)}
TRUE_P = {1: 0.55, 2: 0.58, 3: 0.61, 4: 0.64, 5: 0.67, 6: 0.70}


def _draw(*parts: object) -> float:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 2**32


def noisy(cost: float = 1e-4, confirm_cost: float | None = None) -> FunctionObjective:
    """Graph n is right with probability TRUE_P[n] on each task (a hashed draw) and costs
    ``cost * n`` per task (``confirm_cost * n`` on tasks whose id starts with ``c``)."""

    def fn(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
        n = spec.node("s").n
        ok = _draw(n, task.id, seed) < TRUE_P[n]
        each = confirm_cost if confirm_cost is not None and task.id.startswith("c") else cost
        return TaskOutcome(task_id=task.id, status="ok", correct=ok, cost=each * n)

    return FunctionObjective(fn, prices=PRICES)


def tasks(prefix: str, n: int) -> list[Task]:
    return [
        Task(id=f"{prefix}{i}", kind="math", prompt=f"q {prefix}{i}", expected="1")
        for i in range(n)
    ]


def test_the_search_keeps_the_budget_for_re_evaluation_and_the_held_out_run() -> None:
    """With a budget the search alone would spend on every graph, it leaves enough for the
    top candidates' re-evaluation and the best's held-out run, all within the budget."""
    budget = 0.05
    alone = Study(
        SPACE, tasks("d", 20), noisy(), StudyConfig(algo="grid", max_evals=None, budget_usd=budget)
    ).run_sync()
    assert alone.evaluations == 6 and alone.spent_usd > 0.04  # the search alone spends it all
    result = Study(
        SPACE,
        tasks("d", 20),
        noisy(),
        StudyConfig(algo="grid", max_evals=None, budget_usd=budget, top_k=2, confirm_overlap=False),
        confirm_tasks=tasks("c", 20),
        holdout_tasks=tasks("h", 20),
    ).run_sync()
    sel = result.selection
    assert sel is not None and sel.best is not None
    assert result.evaluations < 6
    assert sel.status == "confirmed" and sel.holdout_status == "evaluated", (sel.status, sel.reason)
    assert [c.status for c in sel.candidates] == ["confirmed", "confirmed"]
    assert sel.best.holdout is not None and sel.best.holdout.tasks == 20
    assert result.spent_usd <= budget + 1e-12
    assert sel.cost_usd > 0 and sel.holdout_cost_usd > 0
    # the other candidate's held-out run is done only if affordable, and says why not
    other = next(c for c in sel.candidates if c is not sel.best)
    assert other.holdout_status == "evaluated" or "budget" in (other.holdout_reason or "")


def test_a_budget_that_cannot_cover_re_evaluation_is_visible_never_silent(tmp_path: Path) -> None:
    """The confirmation tasks cost far more than the dev tasks the estimates learnt from:
    the hard limit stops the re-evaluation; the result, the summary and the report say so."""
    result = Study(
        SPACE,
        tasks("d", 10),
        noisy(confirm_cost=4e-3),
        StudyConfig(algo="grid", max_evals=3, budget_usd=0.03, concurrency=1),
        confirm_tasks=tasks("c", 40),
        holdout_tasks=tasks("h", 20),
        out_dir=tmp_path,
        plots=False,
    ).run_sync()
    sel = result.selection
    assert sel is not None
    assert sel.status in ("incomplete", "partial"), (sel.status, sel.reason)
    assert result.spent_usd <= 0.03 + 1e-12
    stopped = [c for c in sel.candidates if c.status in ("interrupted", "refused", "not_run")]
    assert stopped and all(c.reason for c in stopped)
    assert json.loads((tmp_path / "study.json").read_text())["selection"]["status"] == sel.status
    write_optimize_report(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert f"**Selection: {sel.status}**" in report and "budget" in report
    if sel.holdout_status != "evaluated":
        assert "The held-out run did not happen" in report


# --- the statistics of it ----------------------------------------------------------------


def declared(seed: int, top_k: int) -> float:
    """True accuracy of the best a study declares (a dev set of 20 noisy tasks)."""
    result = Study(
        SPACE,
        tasks(f"s{seed}d", 20),
        noisy(),
        StudyConfig(
            algo="grid", max_evals=None, eval_seed=seed, top_k=top_k, confirm_overlap=False
        ),
        confirm_tasks=tasks(f"s{seed}c", 60),
    ).run_sync()
    assert result.best is not None and result.best_spec is not None
    return TRUE_P[result.best_spec.node("s").n]


def test_over_many_seeds_re_evaluation_gives_away_less_accuracy() -> None:
    """Six graphs 3 points apart (55%-70%), 20 dev tasks: the dev leader is often a worse
    graph that got lucky. Re-evaluating the top 3 on 60 more tasks declares graphs that
    are truly better on average, over 40 seeds (same dev draws on both sides)."""
    seeds = range(40)
    dev_only = [declared(s, 0) for s in seeds]
    confirmed = [declared(s, 3) for s in seeds]
    best = max(TRUE_P.values())
    regret_dev = sum(best - a for a in dev_only) / len(seeds)
    regret_confirmed = sum(best - a for a in confirmed) / len(seeds)
    assert regret_confirmed < regret_dev * 0.75, (regret_dev, regret_confirmed)
    assert sum(a == best for a in confirmed) > sum(a == best for a in dev_only)


# --- splits ------------------------------------------------------------------------------


def test_the_splits_must_not_share_tasks() -> None:
    from thinktank.errors import ConfigError

    dev = tasks("t", 6)
    study = Study(SPACE, dev, noisy(), StudyConfig(algo="grid"), holdout_tasks=dev[:2])
    with pytest.raises(ConfigError, match="in both the dev set and the held-out set"):
        study.run_sync()


def test_held_out_accuracy_is_unbiased_and_within_the_dev_interval_on_a_noisy_dev_set() -> None:
    """60 dev tasks of sampling noise, 40 seeds: the declared best's held-out accuracy lies
    within its dev interval in most studies and is an unbiased estimate of its true
    accuracy, while its dev accuracy is optimistic (it won on those tasks) — less so
    once the top candidates are re-evaluated."""

    def study(seed: int, top_k: int) -> tuple[float, float, float, bool]:
        result = Study(
            SPACE,
            tasks(f"s{seed}d", 60),
            noisy(),
            StudyConfig(algo="grid", max_evals=None, eval_seed=seed, top_k=top_k),
            confirm_tasks=tasks(f"s{seed}c", 60),
            holdout_tasks=tasks(f"s{seed}h", 60),
        ).run_sync()
        sel, spec = result.selection, result.best_spec
        assert sel is not None and sel.best is not None and spec is not None
        dev, held = sel.best.dev.accuracy, sel.best.holdout
        assert held is not None and sel.holdout_status == "evaluated"
        truth = TRUE_P[spec.node("s").n]
        return dev.value, held.accuracy.value, truth, dev.contains(held.accuracy.value)

    seeds = range(40)
    for top_k in (0, 3):
        runs = [study(s, top_k) for s in seeds]
        optimism = sum(d - t for d, _, t, _ in runs) / len(runs)
        held_bias = sum(h - t for _, h, t, _ in runs) / len(runs)
        inside = sum(i for *_, i in runs)
        assert abs(held_bias) < 0.015, (top_k, held_bias)  # held-out: unbiased
        assert optimism > 0.02, (top_k, optimism)  # dev: the winner's curse
        if top_k == 0:
            dev_only = optimism
        else:
            assert optimism < dev_only, (optimism, dev_only)
            assert inside >= 35, inside  # 37 of 40 measured
