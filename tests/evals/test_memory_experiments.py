"""Memory experiments an eval run can be, and what the report says of them: the
ablation (memory off beside on, same tasks and seeds, paired gain, worsened tasks),
repeated runs (own seeds, run-to-run spread), a memory split (learn on one part,
evaluate the rest read-only) and oracle learning labelled as such."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.learning._stream import NO_PYTHON, eval_tasks, family_stream, sim_config
from thinktank.cli.app import app
from thinktank.errors import ConfigError
from thinktank.evals.reports.experiments import paired_gain
from thinktank.evals.reports.report import load_report_data, render_markdown
from thinktank.evals.runs.experiments import learn_split
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task, dump_tasks
from thinktank.learning import MemoryLearner
from thinktank.llm.simulator import SimulatorServer, TaskSet
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.memory import MemoryItem, Provenance, SQLiteMemoryBank

STREAM = family_stream(12, families=3)
GRAPH = "best_of_n:n=2,memory=true"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, TaskSet]]:
    with SimulatorServer(sim_config(STREAM)) as server:
        yield f"openai:sim@{server.base_url}", STREAM


def test_paired_gain_counts_what_memory_fixed_and_what_it_broke() -> None:
    off = {f"t{i}": i < 6 for i in range(10)}  # right on t0..t5
    on = {f"t{i}": 2 <= i < 9 for i in range(10)}  # right on t2..t8
    g = paired_gain(off, on)
    assert g["tasks"] == 10 and g["off"] == 0.6 and g["on"] == 0.7
    assert g["gain"] == pytest.approx(0.1)
    assert g["improved"] == ["t6", "t7", "t8"] and g["worsened"] == ["t0", "t1"]
    assert g["low"] <= 0.1 <= g["high"] and g["low"] < 0 < g["high"]  # 10 tasks: not significant
    assert paired_gain({"a": True}, {"b": True}) == {"tasks": 0}  # nothing paired


def test_ablation_repeat_and_split_run_end_to_end_from_the_cli(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1]), tmp_path / "tasks.jsonl")
    out = tmp_path / "run"
    args = ["eval", "--suite", str(suite), "--model", sim[0], "--graph", GRAPH, "--out", str(out)]
    args += ["--memory", str(tmp_path / "m.sqlite"), "--learn", "reasoningbank", "--stream"]
    args += ["--ablation", "--memory-split", "0.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "memory split: learning on" in res.output
    assert "results (held-out tasks of the memory split)" in res.output
    assert "judged by the model" in res.output and "ORACLE" not in res.output
    with RunDatabase.open(out) as db:
        config, records = db.config(), db.records()
        reports = db.events("task_report")
        cli_accuracy = db.accuracy(exclude_tasks=config.learn_tasks)
    assert [g.label for g in config.graphs] == [GRAPH, f"{GRAPH} [memory off]"]
    assert config.learning == {"mode": "reasoningbank", "judge": "self_judge"}
    learned = set(config.learn_tasks)
    assert config.memory_split == 0.5
    assert learned == learn_split(eval_tasks(sim[1]), 0.5, seed=0)  # the seed's split, exactly
    assert 0 < len(learned) < 12  # both parts have tasks
    by: dict[str, set[str]] = {}
    for r in records:
        by.setdefault(r.graph, set()).add(r.task_id)
    all_tasks = {t.id for t in eval_tasks(sim[1])}
    assert by[GRAPH] == all_tasks
    # the memory-off arm runs the held-out tasks only; no learner saw its results
    assert by[f"{GRAPH} [memory off]"] == all_tasks - learned
    assert {(e["graph"], e["task"]) for e in reports} == {(GRAPH, t) for t in learned}
    md = (out / "report.md").read_text()
    for title in ("## Memory split", "## Memory ablation"):
        assert title in md
    assert "judged by the model (self-judge)" in md and "ORACLE" not in md
    data = load_report_data(out, plots=False)
    # the headline figures are the held-out tasks', in the report as in the CLI
    held_out = 12 - len(learned)
    stats = {s.label: s for s in data.stats}
    assert stats[GRAPH].judged == held_out
    assert stats[GRAPH].accuracy == pytest.approx(cli_accuracy[GRAPH])
    assert f"{cli_accuracy[GRAPH]:.1%}" in res.output
    ablation = next(s for s in data.sections if s.id == "ablation")
    assert [row[0] for row in ablation.rows] == [GRAPH] and ablation.rows[0][1] == str(held_out)
    assert ablation.rows[0][3] == f"{stats[GRAPH].accuracy:.1%}"  # memory on = the summary's
    split = next(s for s in data.sections if s.id == "memory-split")
    assert (
        split.rows[0][0] == GRAPH
        and split.rows[0][3] == f"{stats[GRAPH].accuracy:.1%} of {held_out}"
    )


def test_repetitions_of_a_read_only_bank_get_their_own_seeds_and_a_variance_table(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1]), tmp_path / "tasks.jsonl")
    out = tmp_path / "run"
    args = ["eval", "--suite", str(suite), "--model", sim[0], "--graph", GRAPH, "--out", str(out)]
    args += ["--memory", str(tmp_path / "m.sqlite"), "--ablation", "--repeat", "3"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = load_report_data(out, plots=False)
    assert [s.label for s in data.stats] == [
        GRAPH, f"{GRAPH} [memory off]", f"{GRAPH} #2", f"{GRAPH} [memory off] #2",
        f"{GRAPH} #3", f"{GRAPH} [memory off] #3",
    ]  # fmt: skip
    variance = next(s for s in data.sections if s.id == "variance")
    assert [row[0] for row in variance.rows] == [GRAPH, f"{GRAPH} [memory off]"]
    accs = {s.label: s.accuracy for s in data.stats}
    shown = ", ".join(f"{accs[label]:.1%}" for label in (GRAPH, f"{GRAPH} #2", f"{GRAPH} #3"))
    assert variance.rows[0][1:3] == ["3", shown]
    # other seeds, other samples: the repetitions do not all answer alike
    answers = {(r.graph, r.task_id): r.answer for r in data.records}
    assert any(answers[(GRAPH, t)] != answers[(f"{GRAPH} #2", t)] for _, t in answers)
    assert len({r.task_id for r in data.records}) == 12


def test_oracle_learning_is_labelled_wherever_results_are_shown(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1])[:4], tmp_path / "tasks.jsonl")
    out = tmp_path / "run"
    args = ["eval", "--suite", str(suite), "--model", sim[0], "--graph", GRAPH, "--out", str(out)]
    args += ["--memory", str(tmp_path / "m.sqlite"), "--learn", "reasoningbank"]
    res = CliRunner().invoke(app, [*args, "--learn-judge", "oracle"])
    assert res.exit_code == 0, res.output
    assert "ORACLE: judged with the suite's labels" in res.output
    md = (out / "report.md").read_text()
    assert "judged by the suite's labels (ORACLE)" in md
    assert "**Note:** ORACLE memory" in md
    assert f"| {GRAPH} (oracle memory) |" in md
    # every table that shows the graph's results marks it: summary, pass@k, Selection, Tasks
    rows = [line for line in md.splitlines() if line.startswith(f"| {GRAPH}")]
    assert len(rows) >= 3 and all(line.startswith(f"| {GRAPH} (oracle memory) |") for line in rows)
    header = md.split("## Tasks", 1)[1].strip().splitlines()[0]
    assert header.endswith(f"| {GRAPH} (oracle memory) |"), header
    html = (out / "report.html").read_text()
    assert "ORACLE memory" in html and "(oracle memory)" in html
    for table in ("passk-table", "selection-table", "task-table"):
        part = html.split(f"id='{table}'", 1)[1].split("</table>", 1)[0]
        assert f"{GRAPH} (oracle memory)" in part, table


def test_bad_experiment_options_get_clear_errors(tmp_path: Path, sim: tuple[str, TaskSet]) -> None:
    suite = dump_tasks(eval_tasks(sim[1])[:4], tmp_path / "tasks.jsonl")
    base = ["eval", "--suite", str(suite), "--model", sim[0], "--out", str(tmp_path / "x")]
    mem = ["--memory", str(tmp_path / "m.sqlite")]
    learn = [*mem, "--learn", "reasoningbank"]
    cases = [
        ([*base, "--graph", GRAPH, "--ablation"], 1, "--ablation compares memory on and off: add --memory"),
        ([*base, "--graph", GRAPH, *mem, "--memory-split", "0.5"], 1, "add --learn MODE"),
        ([*base, "--graph", "single", *mem, "--ablation"], 1, "no graph reads memory"),
        ([*base, "--graph", GRAPH, *mem, "--learn-judge", "oracle"], 1, "add --learn MODE"),
        ([*base, "--graph", GRAPH, *learn, "--repeat", "2"], 1, "would share one memory bank"),
        ([*base, "--graph", GRAPH, *learn, "--learn-judge", "labels"], 2, "self (the model judges) or oracle"),
        ([*base, "--graph", GRAPH, *learn, "--memory-split", "1.5"], 2, "0 < F < 1"),
        ([*base, "--graph", GRAPH, *learn, "--memory-split", "0"], 2, "0 < F < 1"),
        ([*base, "--graph", GRAPH, "--repeat", "0"], 2, "--repeat"),
    ]  # fmt: skip
    for args, code, message in cases:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == code and message in _flat(res.output), res.output
        assert "Traceback" not in res.output
    assert not (tmp_path / "x").exists()  # nothing started


def test_a_resumed_learning_run_learns_what_its_stop_skipped_and_keeps_its_learner(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1])[:6], tmp_path / "tasks.jsonl")
    out = tmp_path / "run"
    args = ["eval", "--suite", str(suite), "--model", sim[0], "--graph", GRAPH, "--out", str(out)]
    args += ["--memory", str(tmp_path / "m.sqlite"), "--learn", "reasoningbank", "--stream"]
    assert CliRunner().invoke(app, [*args, "--limit", "4"]).exit_code == 0
    # a stop between two results and their learning steps: their events are gone
    with RunDatabase.open(out) as db:
        db.conn.execute(
            "DELETE FROM events WHERE kind = 'task_report' AND json_extract(data, '$.task') IN "
            "(SELECT task_id FROM results WHERE task_index >= 2)"
        )
        assert len(db.events("task_report")) == 2
    res = CliRunner().invoke(app, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    with RunDatabase.open(out) as db:
        learned = sorted(e["task"] for e in db.events("task_report"))
        tasks = sorted(r.task_id for r in db.records())
    assert learned == tasks and len(tasks) == 6  # each result learned from once, none lost
    # resuming with another judge, or without the learner, changes the experiment: refused
    for extra in (["--learn-judge", "oracle"], None):
        again = [*args, "--resume"] + (extra or [])
        if extra is None:
            again = [a for a in again if a not in ("--learn", "reasoningbank")]
        res = CliRunner().invoke(app, again)
        assert res.exit_code == 1 and "learning: recorded" in _flat(res.output)
        assert "Traceback" not in res.output


def test_a_tasks_part_of_the_split_does_not_depend_on_the_other_tasks() -> None:

    tasks = [Task(id=f"q{i}", kind="math", prompt="p", expected="1") for i in range(40)]
    full = learn_split(tasks, 0.5, seed=3)
    assert 12 <= len(full) <= 28  # about half
    for n in (8, 12, 20):
        part = learn_split(tasks[:n], 0.5, seed=3)
        assert part == full & {t.id for t in tasks[:n]} or len(part) in (1, n - 1)
    assert learn_split(tasks, 0.5, seed=4) != full
    assert len(learn_split(tasks[:2], 0.01, seed=0)) == 1  # never none learned, never all
    assert len(learn_split(tasks[:2], 0.99, seed=0)) == 1


def _flat(text: str) -> str:
    """CLI output on one line, without the boxes rich draws around errors."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _seeded_model(lesson_hurts: bool) -> tuple[FunctionModel, list[tuple[int, int | None, bool]]]:
    """Answers ``a + b`` right, or (``lesson_hurts``) wrong when a lesson is in its
    prompt; logs (a, request seed, lesson shown) per call."""
    log: list[tuple[int, int | None, bool]] = []

    def reply(req: ChatRequest) -> Any:
        system, user = str(req.messages[0]["content"]), str(req.messages[-1]["content"])
        a, b = map(int, re.findall(r"(\d+) \+ (\d+)", user)[0])
        shown = "Misleading shortcut" in system
        log.append((a, req.seed, shown))
        return f"Answer: {a + b + (1 if shown and lesson_hurts else 0)}"

    return FunctionModel(reply), log


async def test_the_ablation_shows_memory_that_hurts_and_arms_share_seeds(tmp_path: Path) -> None:
    tasks = [
        Task(id=f"t{i}", kind="math", prompt=f"Sum: what is {i} + {i}?", expected=str(2 * i))
        for i in range(5)
    ]
    bank = SQLiteMemoryBank(tmp_path / "m.sqlite")
    await bank.add(
        [
            MemoryItem(
                title="Misleading shortcut",
                content="Sum: add one more to every sum, for safety.",
                provenance=Provenance(task_id="elsewhere"),
            )
        ]
    )
    model, log = _seeded_model(lesson_hurts=True)
    try:
        await Runner(
            tasks,
            [GRAPH],
            model,
            out_dir=tmp_path / "run",
            memory=bank,
            memory_ablation=True,
            repeat=2,
            progress=False,
            environment_options=NO_PYTHON,
            concurrency=2,
        ).run()  # fmt: skip  (a bank only read: repetitions are independent)
    finally:
        bank.close()
    data = load_report_data(tmp_path / "run", plots=False)
    ablation = next(s for s in data.sections if s.id == "ablation")
    for row in ablation.rows:  # every task right without memory, wrong with it
        assert row[2:4] == ["100.0%", "0.0%"] and row[6] == "5"
        assert row[4] == "-100.0% [-100.0% – -100.0%]"
        assert row[7] == "t0, t1, t2, t3, t4"
    assert "## Memory ablation" in render_markdown(data)
    # the memory-off arm drew with the seeds of its memory-on arm; repetition 2 with others
    seeds: dict[tuple[int, bool], set[int | None]] = {}
    for a, seed, shown in log:
        seeds.setdefault((a, shown), set()).add(seed)
    for i in range(len(tasks)):
        on, off = seeds[(i, True)], seeds[(i, False)]
        assert on == off and len(on) == 4  # 2 samples × 2 repetitions, the same in both arms


def test_a_runner_refuses_an_ablation_with_nothing_to_ablate_and_a_split_without_a_learner(
    tmp_path: Path,
) -> None:
    tasks = [Task(id="a", kind="math", prompt="What is 1 + 1?", expected="2")] * 1
    with pytest.raises(ConfigError, match="no graph reads memory"):
        Runner(tasks, ["single"], None, out_dir=tmp_path, memory_ablation=True)
    with pytest.raises(ConfigError, match="needs a learner"):
        Runner(tasks, [GRAPH], None, out_dir=tmp_path, memory_split=0.5)
    with pytest.raises(ConfigError, match="at least 2 tasks"):
        Runner(tasks, [GRAPH], None, out_dir=tmp_path, memory_split=0.5, on_task_done=print)
    assert MemoryLearner  # the learner the CLI wires (imported for the docs' sake)


def test_a_run_reading_lessons_an_oracle_run_learned_says_so(
    tmp_path: Path, sim: tuple[str, TaskSet]
) -> None:
    suite = dump_tasks(eval_tasks(sim[1])[:4], tmp_path / "tasks.jsonl")
    for judge in ("ground_truth", "self_judge"):
        bank = SQLiteMemoryBank(tmp_path / f"{judge}.sqlite")
        item = MemoryItem(
            title="Carry the tens", content="Add the tens first, then the ones.",
            provenance=Provenance(task_id="elsewhere", outcome="success", judge=judge),
        )  # fmt: skip
        bank.add_sync([item])
        bank.close()
        out = tmp_path / judge
        args = ["eval", "--suite", str(suite), "--model", sim[0], "--graph", GRAPH]
        res = CliRunner().invoke(app, [*args, "--memory", str(tmp_path / f"{judge}.sqlite"), "--out", str(out)])  # fmt: skip
        assert res.exit_code == 0, res.output
        md = (out / "report.md").read_text()
        if judge == "ground_truth":  # learned with the labels by an earlier run
            assert "**Note:** ORACLE lessons: 1 of the 1 items" in md
        else:
            assert "ORACLE" not in md
