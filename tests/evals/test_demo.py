"""The demo end to end. Part 1: the math suite on the simulator, through the sweep of
graphs, with a report that says it is simulated and accuracies that match what the
configured per-question probabilities imply. Part 2, with a competent scripted model:
math with the python tool, an SWE fix judged in Docker, a web answer from the loopback
corpus, verifier selection, lessons learned into the memory bank and read by later
tasks, and the report written."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.demo import SIM_GRAPHS, demo_graphs, demo_tasks, run_demo, run_simulated
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.tasks.simulated import AccuracySpread, SuiteSimulation
from thinktank.evals.tasks.suites import load_suite
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes.testing import require_docker

FIX = [
    {
        "name": "str_replace",
        "arguments": {
            "path": "pagekit/paginator.py",
            "old_str": "return self.count // self.per_page + 1",
            "new_str": "return -(-self.count // self.per_page)",
        },
    },
    {"name": "submit", "arguments": {}},
]
LESSON = {
    "title": "Check the result",
    "description": "Any task.",
    "content": "Verify before answering.",
}


def competent(req: ChatRequest) -> Any:
    system = str(req.messages[0]["content"])
    if "maintain a memory" in system:
        return json.dumps({"items": [LESSON]})
    if system.startswith("You are the verifier"):
        return json.dumps({"verdict": True, "score": 0.9, "rationale": "checked"})
    user = str(req.messages[1]["content"])
    k = sum(1 for m in req.messages if m["role"] == "assistant")
    tools = [str(m["content"]) for m in req.messages if m["role"] == "tool"]
    if "<issue>" in user:
        return FIX[k] if k < len(FIX) else "Answer: submitted"
    if "sum of all integers" in user:
        if k == 0:
            return {"name": "python", "arguments": {"code": "print(sum(range(1, 251)))"}}
        return f"Answer: {tools[-1].strip()}"
    if k == 0:
        return {"name": "web_search", "arguments": {"query": "Greywater Lighthouse built"}}
    if k == 1:
        url = re.search(r"http://127\.0\.0\.1:\d+/\S*greywater-lighthouse\.html", tools[0])
        assert url, tools[0]
        return {"name": "fetch_page", "arguments": {"url": url.group(0)}}
    year = re.search(r"built in (\d{4})", tools[-1])
    return f"Answer: {year.group(1) if year else 'unknown'}"


def test_demo_set_and_graphs() -> None:
    assert [t.kind for t in demo_tasks()] == ["math", "swe", "web"]
    graphs = demo_graphs(samples=2, max_steps=3, max_tokens=96)
    assert list(graphs) == ["single", "best_of_2_verifier"]
    solver = graphs["best_of_2_verifier"].nodes[0]
    assert solver.memory and solver.max_steps == 3 and solver.max_tokens == 96
    assert graphs["best_of_2_verifier"].selection.method == "verifier"
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and "--max-steps" in result.output
    assert "--no-simulated" in result.output and "--no-plumbing" in result.output


@pytest.mark.docker
async def test_demo_runs_end_to_end_with_memory_and_a_report(tmp_path: Path) -> None:
    require_docker()
    model = FunctionModel(competent)
    result = await run_demo(model, tmp_path / "run", progress=False)
    rows = {(r["task"], r["graph"]): r for r in result.rows}
    assert len(rows) == 6, result.rows
    assert all(r["correct"] for r in result.rows), result.rows
    assert result.report and result.report.endswith("report.html")
    assert (tmp_path / "run" / "report.md").is_file() and (tmp_path / "run" / "demo.json").is_file()
    assert result.memory_items >= 1 and result.memory_warnings == 0
    # lessons from the first task reach the prompts of later ones
    shown = [
        r for r in model.requests if "Lessons from earlier tasks" in str(r.messages[0]["content"])
    ]
    assert shown
    swe = rows[("thinktank-fixtures__pagekit-1", "single")]
    assert swe["reason"].startswith("resolved")
    logs = sorted(p.name for p in (tmp_path / "run" / "swe-logs").iterdir())
    assert logs == ["thinktank-fixtures__pagekit-1", "thinktank-fixtures__pagekit-1-2"]


# --- part 1: the simulated sweep -----------------------------------------------------------
# What the configured probabilities imply, exactly: samples are independent draws (right
# with p, else wrong answer i with its weight); a vote picks the most common answer (ties:
# the first seen, so each tied answer equally likely); the verifier's score of a candidate
# is above 0.5 when it accepts it (TPR if right, FPR if wrong), and the best score wins.


def _counts(n: int, k: int) -> Iterator[tuple[int, ...]]:
    """Every way of putting ``n`` samples into ``k`` categories."""
    for cut in itertools.combinations(range(n + k - 1), k - 1):
        edges = (-1, *cut, n + k - 1)
        yield tuple(b - a - 1 for a, b in itertools.pairwise(edges))


def _pmf(counts: Sequence[int], probs: Sequence[float]) -> float:
    out = float(math.factorial(sum(counts)))
    for c, p in zip(counts, probs, strict=True):
        out *= p**c / math.factorial(c)
    return out


def vote_accuracy(p: float, weights: Sequence[float], n: int) -> float:
    probs = [p, *((1 - p) * w / sum(weights) for w in weights)]
    total = 0.0
    for c in _counts(n, len(probs)):
        if c[0] == max(c):
            total += _pmf(c, probs) / sum(x == c[0] for x in c)
    return total


def verifier_accuracy(p: float, n: int, tpr: float, fpr: float) -> float:
    probs = [p * tpr, (1 - p) * fpr, p * (1 - tpr), (1 - p) * (1 - fpr)]
    total = 0.0
    for right_yes, wrong_yes, right_no, wrong_no in _counts(n, 4):
        accepted = right_yes + wrong_yes
        share = right_yes / accepted if accepted else right_no / n
        total += _pmf((right_yes, wrong_yes, right_no, wrong_no), probs) * share
    return total


def check_expected(observed: dict[str, bool], expected: dict[str, float], label: str) -> float:
    """Observed accuracy within 4.5 standard deviations of what the probabilities imply."""
    ids = sorted(expected)
    mean = sum(expected[i] for i in ids) / len(ids)
    sd = math.sqrt(sum(expected[i] * (1 - expected[i]) for i in ids)) / len(ids)
    got = sum(observed[i] for i in ids) / len(ids)
    assert abs(got - mean) <= 4.5 * sd + 1e-9, (label, got, mean, sd)
    return mean


def correct_by_graph(out: Path) -> dict[str, dict[str, bool]]:
    with RunDatabase.open(out) as db:
        records = db.records()
    assert all(r.status != "error" for r in records), [r for r in records if r.status == "error"]
    by: dict[str, dict[str, bool]] = {}
    for r in records:
        by.setdefault(r.graph, {})[r.task_id] = bool(r.correct)
    return by


async def test_simulated_sweep_records_report_and_what_the_accuracies_imply(
    tmp_path: Path,
) -> None:
    out = tmp_path / "simulated"
    result = await run_simulated(out, progress=False)
    tasks = load_suite("math")
    served = {q.id: q for q in SuiteSimulation().task_set(tasks).questions}
    by = correct_by_graph(out)
    labels = ["single", "best_of_n[n=2]", "best_of_n[n=4]", "best_of_n[n=8]"]
    labels += ["self_consistency", "verifier[n=2]", "verifier[n=4]"]
    assert SIM_GRAPHS[0] == "single" and sorted(by) == sorted(labels)
    assert all(set(by[g]) == set(served) for g in labels), "a (task, graph) has no record"
    assert result.tasks == len(served) == 70 and [r["graph"] for r in result.rows] == labels
    # labelled as simulated, prices as illustrative, everywhere it is shown
    md = (out / "report.md").read_text()
    assert md.splitlines()[0] == "# Eval report — math (simulated model)"
    assert "> **Note:** Simulated model" in md and "illustrative prices" in md
    html = (out / "report.html").read_text()
    assert "Simulated model" in html and "math (simulated model)" in html
    assert (out / "plots" / "accuracy_vs_cost.png").is_file()
    assert json.loads((out / "simulated.json").read_text())["model"] == "simulated"
    cost = {r["graph"]: r["cost_per_task"] for r in result.rows}
    assert 0 < cost["single"] < cost["best_of_n[n=4]"] < cost["best_of_n[n=8]"]
    # accuracies: what the configured probabilities imply (verifier TPR 0.9, FPR 0.1)
    p = {i: float(q.p_correct) for i, q in served.items()}  # type: ignore[arg-type]
    single = check_expected(by["single"], p, "single")
    verified = {
        n: check_expected(
            by[f"verifier[n={n}]"], {i: verifier_accuracy(x, n, 0.9, 0.1) for i, x in p.items()},
            f"verifier[n={n}]",
        )
        for n in (2, 4)
    }  # fmt: skip
    # The vote's expectation is checked on the word problems; Game-of-24 hands (voted on
    # whole expressions, their metadata says answer_kind: exact) count in the rates below.
    words = {i: x for i, x in p.items() if not i.startswith("game24")}
    voted = {
        n: check_expected(
            by[f"best_of_n[n={n}]"],
            {i: vote_accuracy(x, served[i].wrong_weights or [1.0], n) for i, x in words.items()},
            f"best_of_n[n={n}]",
        )
        for n in (2, 4, 8)
    }
    # what this configuration implies: more samples help, the verifier most
    assert voted[8] > voted[4] > sum(words.values()) / len(words) + 0.05
    assert verified[4] > verified[2] > single + 0.1
    rate = {g: sum(v.values()) / len(v) for g, v in by.items()}
    assert rate["verifier[n=4]"] > rate["single"]


async def test_the_simulator_can_make_voting_and_verifying_look_bad(tmp_path: Path) -> None:
    """Hard questions (p = 0.2, the distractor 0.48) and a verifier that cannot tell: the
    vote settles on the distractor and the verifier picks at random."""
    simulation = SuiteSimulation(
        accuracy=AccuracySpread.parse("0.2"), verifier_tpr=0.5, verifier_fpr=0.5
    )
    graphs = ["single", "best_of_n:n=8", "verifier=best_of_n:n=4,select=verifier"]
    out = tmp_path / "hard"
    await run_simulated(
        out, simulation=simulation, graphs=graphs, suite_options={"game24": 0}, progress=False
    )
    by = correct_by_graph(out)
    ids = list(by["single"])
    assert len(ids) == 60
    single = check_expected(by["single"], dict.fromkeys(ids, 0.2), "single")
    voted = check_expected(
        by["best_of_n:n=8"], dict.fromkeys(ids, vote_accuracy(0.2, [3, 1, 1], 8)), "vote"
    )
    verified = check_expected(
        by["verifier"], dict.fromkeys(ids, verifier_accuracy(0.2, 4, 0.5, 0.5)), "verifier"
    )
    assert voted < single - 0.05 and abs(verified - single) < 1e-9
