"""The memory learner on compiled graphs with scripted models: persistence across
processes, judging without ground truth, budgets, MaTTS labelling and fallbacks,
cheatsheet storage and synthesis failures."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinktank.evals.tasks.evaluators import evaluate
from thinktank.evals.tasks.task import Task
from thinktank.graphs import compile, topology
from thinktank.learning import LearnerConfig, MemoryLearner
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.memory import MemoryItem, SQLiteMemoryBank, SQLiteSheetStore

LESSON = {
    "title": "Add the tens first",
    "description": "Sums of two-digit numbers.",
    "content": "Add the tens digits first, then the ones digits, then combine.",
}
ROOT = Path(__file__).resolve().parents[2]


def teacher(
    *, answer: Callable[[str], str] | None = None, judge: str = "success", items: Any = None
) -> FunctionModel:
    """Solves ``What is a + b?``; extracts :data:`LESSON`; self-judges ``judge``; curates."""

    def reply(req: ChatRequest) -> Any:
        system = str(req.messages[0]["content"])
        user = str(req.messages[-1]["content"])
        if "memory extractor" in system:
            return json.dumps({"items": [LESSON] if items is None else items})
        if "judge whether an agent solved" in system:
            return json.dumps({"outcome": judge, "rationale": "checked by hand"})
        if "cheatsheet curator" in system:
            return "<cheatsheet>\n- Add tens first.\n</cheatsheet>"
        a, b = map(int, re.findall(r"(\d+) \+ (\d+)", user)[0])
        return f"Answer: {answer(user) if answer else a + b}"

    return FunctionModel(reply)


def add_task(i: int, *, expected: bool = True, kind: str = "math") -> Task:
    return Task(
        id=f"t{i}", kind=kind, prompt=f"Add the tens: what is {i} + {i}?",  # type: ignore[arg-type]
        expected=str(2 * i) if expected else None,
    )  # fmt: skip


CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[2])
    from tests.learning.test_integration_learner import add_task, teacher
    from thinktank.graphs import compile, topology
    from thinktank.learning import MemoryLearner
    from thinktank.memory import SQLiteMemoryBank

    async def main():
        bank = SQLiteMemoryBank(sys.argv[1], create=False)
        model = teacher()
        learner = MemoryLearner(model, bank)
        graph = compile(topology("single:memory=true"), models=model, memory=learner.memory)
        task = add_task(21)
        result = await graph.run(task)
        report = await learner.learn_from(task, result, True)
        print(json.dumps({"shown": report.shown, "items": report.items,
                          "prompt": model.requests[0].messages[0]["content"]}))
        bank.close()

    asyncio.run(main())
    """
)


async def test_a_graph_run_retrieves_learns_and_persists_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    bank = SQLiteMemoryBank(path)
    seed = MemoryItem(title="Tens and ones", content="Split each number into tens and ones.")
    await bank.add([seed])
    model = teacher()
    learner = MemoryLearner(model, bank)
    graph = compile(topology("single:memory=true,memory_k=2"), models=model, memory=learner.memory)
    task = add_task(12)
    result = await graph.run(task)
    assert seed.content in str(model.requests[0].messages[0]["content"])  # retrieved
    report = await learner.learn_from(task, result, await evaluate(task, result.answer))
    assert report.shown == [seed.id] and report.used_recorded == 1 and report.outcome == "success"
    [learned] = report.items
    bank.close()

    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CHILD, str(path), str(ROOT)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert learned in seen["shown"] and LESSON["content"] in seen["prompt"]

    again = SQLiteMemoryBank(path)  # the child's writes are here too
    try:
        assert again.get_sync(learned).usage.used_in_success == 1
        assert again.get_sync(seed.id).usage.used_in_success == 2
        assert set(seen["items"]) <= {i.id for i in again.scan_sync()}
        assert again.count_sync() == 3
    finally:
        again.close()


async def test_without_ground_truth_the_self_judge_decides_and_is_recorded(bank: Any) -> None:
    model = teacher(judge="failure")
    learner = MemoryLearner(model, bank)
    task = add_task(3, expected=False, kind="text")
    result = await compile(topology("single"), models=model).run(task)
    report = await learner.learn_from(task, result)
    assert (report.judge, report.outcome, report.rationale) == ("self_judge", "failure", "checked by hand")  # fmt: skip
    [item] = bank.scan_sync()
    assert item.kind == "pitfall" and item.provenance.judge == "self_judge"
    assert item.provenance.task_id == "t3" and item.domain == "text"

    default = MemoryLearner(teacher(judge="success"), bank)
    report = await default.learn_from(task, result, False)  # the evaluator's verdict is ignored
    assert report.judge == "self_judge" and report.outcome == "success"
    oracle = MemoryLearner(teacher(judge="success"), bank, config=LearnerConfig(judge="oracle"))
    report = await oracle.learn_from(task, result, False)  # only the oracle reads the labels
    assert report.judge == "ground_truth" and report.outcome == "failure"
    assert LearnerConfig(judge="auto").judge == "oracle"  # the former default, by its name

    nothing = await MemoryLearner(model, bank).learn_from(task, None, True)
    assert nothing.skipped == "no run result to learn from" and nothing.calls == 0

    mute = MemoryLearner(teacher(judge="perhaps"), bank)
    report = await mute.learn_from(task, result)
    assert report.skipped and report.items == [] and "self-judge reply did not parse" in report.warnings[0]  # fmt: skip


async def test_learning_spends_what_is_left_of_the_task_budget(bank: Any) -> None:
    model = teacher()
    task = add_task(4)
    graph = compile(topology("single:memory=true + budget:max_calls=1"), models=model)
    result = await graph.run(task)
    assert result.budget.calls == 1
    report = await MemoryLearner(model, bank, config=LearnerConfig(judge="oracle")).learn_from(
        task, result, True
    )
    assert report.budget_stopped and report.items == [] and "1 call limit" in report.warnings[0]

    roomy = await compile(topology("single + budget:max_calls=2"), models=model).run(task)
    report = await MemoryLearner(model, bank, config=LearnerConfig(judge="oracle")).learn_from(
        task, roomy, True
    )
    assert not report.budget_stopped and len(report.items) == 1 and report.calls == 1

    capped = MemoryLearner(model, bank, config=LearnerConfig(max_tokens=5, judge="oracle"))
    report = await capped.learn_from(task, roomy, True)
    assert report.budget_stopped and "memory learning" in report.warnings[0]


async def test_matts_labels_samples_and_falls_back_on_a_single_sample(bank: Any) -> None:
    picks = iter(["7", "8", "8", "9"])  # answers of the 4 samples (in request order)
    model = teacher(answer=lambda _: next(picks), judge="failure")
    task = add_task(4, expected=False, kind="text")
    result = await compile(topology("best_of_n:n=4"), models=model).run(task)
    learner = MemoryLearner(
        model, bank, mode="matts_parallel", config=LearnerConfig(judge="oracle")
    )
    report = await learner.learn_from(task, result, True)  # ground truth for the winner only
    assert report.method == "matts_parallel" and report.samples == 4
    win = {o.answer for o in result.trace.outputs if o.id == result.selection.winner}
    assert win == {"8"}
    outcomes = [
        "success" if o.answer == "8" else "failure"
        for o in result.trace.outputs
        if o.role == "solver"
    ]
    assert report.sample_outcomes == outcomes  # same answer: the winner's; others self-judged
    contrast = next(r for r in model.requests if "attempts" in str(r.messages[0]["content"]))
    assert str(contrast.messages[1]["content"]).count("(success)") == 2

    single = await compile(topology("single"), models=model).run(add_task(5))
    report = await learner.learn_from(add_task(5), single, True)
    assert report.method == "reasoningbank" and "2+ candidates" in report.notes[0]
    assert report.items


async def test_cumulative_sheets_are_compare_and_set_across_bank_objects(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    gate = asyncio.Event()
    arrived: list[str] = []

    async def slow(req: ChatRequest) -> Any:
        if "cheatsheet curator" in str(req.messages[0]["content"]):
            arrived.append("curator")
            if len(arrived) == 2:
                gate.set()
            await asyncio.wait_for(gate.wait(), 30)  # both curators start from the same version
            n = str(req.messages[-1]["content"]).count("- tip")
            return "<cheatsheet>\n" + "- tip\n" * (n + 1) + "</cheatsheet>"
        return "Answer: 2"

    banks = [SQLiteMemoryBank(path), SQLiteMemoryBank(path)]
    model = FunctionModel(slow)
    learners = [
        MemoryLearner(model, b, mode="cheatsheet_cumulative", config=LearnerConfig(judge="oracle"))
        for b in banks
    ]
    result = await compile(topology("single"), models=model).run(add_task(1))
    runs = [asyncio.create_task(lr.learn_from(add_task(1), result, True)) for lr in learners]
    reports = await asyncio.gather(*runs)
    try:
        assert sorted(r.sheet_version for r in reports) == [1, 2]  # type: ignore[type-var]
        assert sum("changed during curation" in n for r in reports for n in r.notes) == 1
        sheet = SQLiteSheetStore(banks[0]).load_sync("cheatsheet")
        assert sheet.version == 2 and sheet.text.count("- tip") == 2  # nothing lost
        shown = await learners[1].memory.retrieve("anything", 3)
        assert [s.id for s in shown] == ["cheatsheet:cheatsheet@v2"]
    finally:
        for b in banks:
            b.close()


async def test_a_failed_synthesis_shows_the_items_and_warns_in_the_report(bank: Any) -> None:
    def reply(req: ChatRequest) -> Any:
        system = str(req.messages[0]["content"])
        if "cheatsheet curator" in system:
            return "I would rather not."
        if "memory extractor" in system:
            return json.dumps({"items": []})
        return "Answer: 8"

    await bank.add([MemoryItem(title="Add the tens first", content=LESSON["content"])])
    model = FunctionModel(reply)
    learner = MemoryLearner(
        model, bank, mode="cheatsheet_synthesis", config=LearnerConfig(judge="oracle")
    )
    task = add_task(4)
    result = await compile(topology("single:memory=true"), models=model, memory=learner.memory).run(task)  # fmt: skip
    assert LESSON["content"] in str(model.requests[1].messages[0]["content"])
    report = await learner.learn_from(task, result, True)
    assert any("no <cheatsheet> block" in w for w in report.warnings)
    assert report.used_recorded == 1  # the raw item was shown, and its use counted
