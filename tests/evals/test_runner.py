"""The eval runner: records, resume, retries, budgets, sweeps, streaming hooks, tools."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.errors import ConfigError, UsageError
from thinktank.evals.runs.records import ConfigMismatch, RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.runs.sweep import expand_graph, expand_graphs
from thinktank.llm.pricing import reset_prices, set_price
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet

from .runner_support import NO_PYTHON, add, arith_model, arith_tasks


def runner(tasks: Any, graphs: Any, model: Any, out: Path, **kw: Any) -> Runner:
    kw.setdefault("environment_options", NO_PYTHON)
    kw.setdefault("progress", False)
    return Runner(tasks, graphs, model, out_dir=out, **kw)


def keys(out: Path) -> list[tuple[str, str]]:
    with RunDatabase.open(out) as db:
        return [(r.graph, r.task_id) for r in db.records()]


@pytest.fixture
def prices() -> Iterator[None]:
    yield
    reset_prices()


async def test_simulator_eval_end_to_end(tmp_path: Path) -> None:
    from thinktank.evals.tasks.task import Task

    qs = TaskSet.generate(10, seed=3, p_correct=[0.95, 0.6, 0.3])
    tasks = [Task(id=q.id, kind="math", prompt=q.question, expected=q.answer) for q in qs.questions]
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=qs))) as sim:
        r = runner(tasks, ["single", "best_of_n:n=1,3"], f"openai:sim@{sim.base_url}", tmp_path)
        s = await r.run()
    assert s.complete and s.recorded == 30 and s.errors == 0 and s.stop_reason == "completed"
    assert list(s.accuracy) == ["single", "best_of_n[n=1]", "best_of_n[n=3]"]
    assert all(a is not None and 0 < a <= 1 for a in s.accuracy.values())
    with RunDatabase.open(tmp_path) as db:
        recs = db.records(with_result=True)
        cfg = db.config()
    assert len({(x.graph, x.task_id) for x in recs}) == 30
    assert cfg.models == {"default": "sim"} and [g.label for g in cfg.graphs] == list(s.accuracy)
    three = [x for x in recs if x.graph == "best_of_n[n=3]"]
    assert all(x.samples == 3 and x.sample_correct is not None for x in three)
    res = three[0].result
    assert res.trace.outputs[0].trajectory["messages"]  # trajectories are stored
    assert (tmp_path / "run.json").is_file()


async def test_resume_adds_only_missing_and_never_overwrites(tmp_path: Path) -> None:
    model = arith_model()
    s1 = await runner(arith_tasks(4), ["single"], model, tmp_path).run()
    assert s1.recorded == 4
    with RunDatabase.open(tmp_path) as db:
        before = {(x.graph, x.task_id): x.created_at for x in db.records()}
    with pytest.raises(UsageError, match="--resume"):
        await runner(arith_tasks(6), ["single"], model, tmp_path).run()
    s2 = await runner(arith_tasks(6), ["single"], model, tmp_path, resume=True).run()
    assert (s2.skipped, s2.recorded) == (4, 2)
    with RunDatabase.open(tmp_path) as db:
        after = {(x.graph, x.task_id): x.created_at for x in db.records()}
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())


async def test_config_mismatch_refuses_and_explains_out(tmp_path: Path) -> None:
    await runner(arith_tasks(2), ["single"], arith_model(), tmp_path).run()
    with pytest.raises(ConfigMismatch, match="--out") as exc:
        await runner(arith_tasks(2), ["best_of_n:n=2"], arith_model(), tmp_path, resume=True).run()
    assert "+best_of_n:n=2" in str(exc.value) and "-single" in str(exc.value)
    with pytest.raises(ConfigMismatch, match="seed"):
        await runner(arith_tasks(2), ["single"], arith_model(), tmp_path, resume=True, seed=5).run()
    # the budget and concurrency may change on resume
    s = await runner(
        arith_tasks(2),
        ["single"],
        arith_model(),
        tmp_path,
        resume=True,
        budget_usd=3,
        concurrency=2,
    ).run()
    assert s.skipped == 2


async def test_errors_are_recorded_and_retried_only_on_request(tmp_path: Path) -> None:
    broken = {1}
    model = arith_model(broken=broken)
    s = await runner(arith_tasks(3), ["single"], model, tmp_path).run()
    assert (s.recorded, s.errors) == (3, 1)
    with RunDatabase.open(tmp_path) as db:
        err = next(x for x in db.records() if x.status == "error")
    assert err.task_id == "t1" and "endpoint down" in (err.error or "")
    broken.clear()
    s = await runner(arith_tasks(3), ["single"], model, tmp_path, resume=True).run()
    assert (s.skipped, s.recorded) == (3, 0)
    s = await runner(
        arith_tasks(3), ["single"], model, tmp_path, resume=True, retry_errors=True
    ).run()
    assert (s.skipped, s.recorded, s.errors) == (2, 1, 0)
    with RunDatabase.open(tmp_path) as db:
        fixed = next(x for x in db.records() if x.task_id == "t1")
        retired = db.conn.execute("SELECT task_id, status, attempt FROM retired").fetchall()
    assert fixed.correct and fixed.attempt == 2
    assert retired == [("t1", "error", 1)]


async def test_run_budget_stops_cleanly_and_resume_finishes(tmp_path: Path, prices: None) -> None:
    set_price("priced", input=100.0, output=1000.0)
    model = arith_model(model_id="priced")
    graph = ["single:max_tokens=10"]
    s = await runner(arith_tasks(30), graph, model, tmp_path, budget_usd=0.05, concurrency=4).run()
    assert s.stop_reason == "budget" and not s.complete
    assert 0 < s.recorded < 30 and s.not_started > 0
    assert s.spent_usd <= 0.05 + 1e-9  # calls reserve their worst case: never past the budget
    assert len(set(keys(tmp_path))) == len(keys(tmp_path)) == s.recorded
    with RunDatabase.open(tmp_path) as db:
        assert db.sessions()[-1]["stop_reason"] == "budget"
    s2 = await runner(arith_tasks(30), graph, model, tmp_path, budget_usd=10, resume=True).run()
    assert s2.complete and s2.stop_reason == "completed"
    assert sorted(keys(tmp_path)) == sorted(("single:max_tokens=10", f"t{i}") for i in range(30))


async def test_per_task_budget_from_the_spec(tmp_path: Path) -> None:
    s = await runner(
        arith_tasks(2), ["best_of_n:n=4 + budget:max_calls=2"], arith_model(), tmp_path
    ).run()
    assert s.recorded == 2
    with RunDatabase.open(tmp_path) as db:
        recs = db.records(with_result=True)
    assert all(x.calls <= 2 for x in recs)
    assert all(x.result.budget.max_calls == 2 for x in recs)


async def test_sweep_is_one_run_with_labelled_members(tmp_path: Path) -> None:
    s = await runner(arith_tasks(3), ["best_of_n:n=1,2,4"], arith_model(wrong=[0]), tmp_path).run()
    assert list(s.accuracy) == ["best_of_n[n=1]", "best_of_n[n=2]", "best_of_n[n=4]"]
    assert s.accuracy["best_of_n[n=4]"] == pytest.approx(2 / 3)
    with RunDatabase.open(tmp_path) as db:
        graphs = db.config().graphs
        samples = {x.graph: x.samples for x in db.records()}
    assert {g.family for g in graphs} == {"best_of_n:n=1,2,4"}
    assert [g.params for g in graphs] == [{"n": 1}, {"n": 2}, {"n": 4}]
    assert samples == {"best_of_n[n=1]": 1, "best_of_n[n=2]": 2, "best_of_n[n=4]": 4}


def test_graph_arguments() -> None:
    assert [e.label for e in expand_graph("cheap=single")] == ["cheap"]
    two = expand_graphs(["single", "best_of_n:n=2,4,select=verifier"])
    assert [e.label for e in two] == ["single", "best_of_n[n=2]", "best_of_n[n=4]"]
    assert two[2].spec.metadata["params"]["select"] == "verifier"
    assert len(expand_graph("mav:n=2,aspects=[a,b]")) == 1  # a list is one value, not a sweep
    with pytest.raises(ConfigError, match="valid topologies: single"):
        expand_graphs(["nonsense:n=2"])
    with pytest.raises(ConfigError, match="labelled 'single'"):
        expand_graphs(["single", "single"])


async def test_stream_calls_the_hook_in_task_order_before_the_next_task(tmp_path: Path) -> None:
    log: list[Any] = []
    seen: list[tuple[str, bool]] = []

    async def hook(task: Any, result: Any, verdict: Any) -> None:
        await asyncio.sleep(0)
        log.append(("hook", task.id))
        seen.append((result.task_id, verdict.correct))

    model = arith_model(wrong=[2], log=log)
    s = await runner(
        arith_tasks(5), ["single", "best_of_n:n=2"], model, tmp_path,
        stream=True, on_task_done=hook, concurrency=8,
    ).run()  # fmt: skip
    assert s.recorded == 10
    assert [t for t, _ in seen] == [f"t{i}" for i in range(5) for _ in range(2)]
    assert [ok for _, ok in seen][4:6] == [False, False]
    # every call of task i happens before task i's hooks, which happen before task i+1's calls
    order = [task for _, task in log]
    assert order == sorted(order, key=lambda t: int(t[1:]))


async def test_hook_failures_do_not_stop_the_run(tmp_path: Path) -> None:
    calls: list[str] = []

    def hook(task: Any, result: Any, verdict: Any) -> None:
        calls.append(task.id)
        raise ValueError("learning failed")

    s = await runner(arith_tasks(3), ["single"], arith_model(), tmp_path, on_task_done=hook).run()
    assert s.recorded == 3 and sorted(calls) == ["t0", "t1", "t2"]
    with RunDatabase.open(tmp_path) as db:
        assert len(db.events("hook_error")) == 3


async def test_environment_tools_reach_the_agents(tmp_path: Path) -> None:
    tasks = arith_tasks(3, kind="text")
    s = await runner(
        tasks, ["single"], arith_model(use_tool=True), tmp_path,
        environment_options={"text": {"tools": [add]}},
    ).run()  # fmt: skip
    assert s.recorded == 3 and s.accuracy["single"] == 1.0
    with RunDatabase.open(tmp_path) as db:
        res = db.records(with_result=True)[0].result
    steps = res.trace.outputs[0].trajectory["steps"]
    assert (
        steps[0]["tool_calls"][0]["name"] == "add" and steps[0]["tool_calls"][0]["content"] == "0"
    )


async def test_duplicate_records_are_impossible(tmp_path: Path) -> None:
    await runner(arith_tasks(2), ["single"], arith_model(), tmp_path).run()
    conn = sqlite3.connect(tmp_path / "records.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO results SELECT * FROM results WHERE task_id = 't0'")
    conn.close()


async def test_a_second_live_runner_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    from thinktank.evals.runs.records import lock_run_dir

    held = lock_run_dir(tmp_path)
    try:
        with pytest.raises(UsageError, match="another thinktank process"):
            await runner(arith_tasks(1), ["single"], arith_model(), tmp_path).run()
    finally:
        held.close()


def test_bad_runner_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unique"):
        runner(arith_tasks(2) + arith_tasks(1), ["single"], arith_model(), tmp_path)
    with pytest.raises(ConfigError, match="valid executors: local, ray"):
        runner(arith_tasks(1), ["single"], arith_model(), tmp_path, executor="dask")


async def test_memory_bank_reaches_memory_nodes(tmp_path: Path) -> None:
    from thinktank.memory import MemoryItem, SQLiteMemoryBank

    bank = SQLiteMemoryBank(tmp_path / "memory.sqlite")
    lesson = "Adding twins is doubling: double the number."
    await bank.add([MemoryItem(title="Adding twins", content=lesson)])
    tasks = [t.model_copy(update={"prompt": "Adding twins. " + t.prompt}) for t in arith_tasks(2)]
    model = arith_model()
    try:
        s = await runner(tasks, ["single:memory=true"], model, tmp_path / "run", memory=bank).run()
    finally:
        bank.close()
    assert s.recorded == 2
    prompts = [" ".join(str(m["content"]) for m in r.messages) for r in model.requests]
    assert len(prompts) == 2 and all(lesson in p for p in prompts)
    with RunDatabase.open(tmp_path / "run") as db:
        assert db.config().memory == str(tmp_path / "memory.sqlite")


def test_progress_display_counts_and_draws_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from thinktank.evals.runs.progress import Progress
    from thinktank.evals.runs.run_types import TaskRecord

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    p = Progress(4, done=1, judged=1, correct=1, budget_usd=1.0, console=console).start()
    for i, ok in enumerate([True, False, False]):
        p.update(TaskRecord(graph="g", task_id=f"t{i}", status="ok", correct=ok, cost=0.1))
    p.stop()
    assert (p.done, p.judged, p.correct, p.accuracy) == (4, 4, 2, 0.5)
    assert (
        "4/4" in buf.getvalue() and "acc 50.0%" in buf.getvalue() and "$0.3000/$1" in buf.getvalue()
    )
    quiet = Progress(2, console=Console(file=io.StringIO())).start()  # not a terminal: no drawing
    quiet.update(TaskRecord(graph="g", task_id="x", status="error"))
    quiet.stop()
    assert quiet.errors == 1 and quiet.accuracy is None


def _paraphrase_tasks(n: int) -> list[Any]:
    from thinktank.evals.tasks.evaluators import LLMMatchConfig
    from thinktank.evals.tasks.task import Task

    return [
        Task(
            id=f"p{i}",
            kind="text",
            prompt=f"Where is site {i}?",
            expected=f"north shore {i}",
            evaluator=LLMMatchConfig(),
        )
        for i in range(n)
    ]


def _paraphrasing_solver() -> Any:
    from thinktank.llm.testing import FunctionModel

    def reply(req: Any) -> str:
        i = str(req.messages[-1]["content"]).split("site ")[1].split("?")[0]
        return f"Answer: the northern shore of site {i}"  # needs the judge to be accepted

    return FunctionModel(reply, model_id="free-solver")


def _priced_judge(log: list[Any]) -> Any:
    from thinktank.llm.testing import FunctionModel

    def reply(req: Any) -> str:
        log.append(req)
        return '{"equivalent": true, "reason": "same shore"}'

    set_price("pricey-judge", input=50.0, output=200.0)
    return FunctionModel(reply, model_id="pricey-judge")


async def test_judge_calls_are_charged_to_the_run_apart_from_the_graphs_cost(
    tmp_path: Path, prices: None
) -> None:
    judged: list[Any] = []
    args = (_paraphrase_tasks(4), ["single"], _paraphrasing_solver(), tmp_path)
    r = runner(*args, judge=_priced_judge(judged), budget_usd=5.0)
    s = await r.run()
    assert s.complete and s.recorded == 4 and len(judged) == 4
    with RunDatabase.open(tmp_path) as db:
        recs = db.records()
    assert all(x.correct and x.cost == 0.0 for x in recs)  # the graph's own cost: a free model
    usage = [x.verdict.details["evaluation_usage"] for x in recs if x.verdict]
    assert len(usage) == 4 and all(u["calls"] == 1 and u["tokens"] > 0 for u in usage)
    assert all(x.evaluation_cost > 0 for x in recs)
    judging = sum(x.evaluation_cost for x in recs)
    assert s.spent_usd == pytest.approx(judging)  # the run's spend includes judging


async def test_a_judge_call_the_run_budget_refuses_interrupts_the_task(
    tmp_path: Path, prices: None
) -> None:
    judged: list[Any] = []
    judge = _priced_judge(judged)
    args = (_paraphrase_tasks(3), ["single"], _paraphrasing_solver(), tmp_path)
    s = await runner(*args, judge=judge, budget_usd=1e-9).run()
    assert s.stop_reason == "budget" and s.recorded == 0 and s.interrupted > 0
    assert judged == [] and s.spent_usd <= 1e-9  # refused before the call went out
    assert keys(tmp_path) == []  # an unjudged task is not a result: it runs again on resume
    s2 = await runner(*args, judge=judge, budget_usd=5.0, resume=True).run()
    assert s2.complete and sorted(keys(tmp_path)) == [("single", f"p{i}") for i in range(3)]
    assert len(judged) == 3
