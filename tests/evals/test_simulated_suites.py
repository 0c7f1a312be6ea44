"""Bundled suites served by the simulator: questions, known answers, accuracies, the CLI.

``thinktank models simulate --suite`` runs in a child process; the test reads the
base URL and the ``--model`` string it prints, then samples a suite question many
times over HTTP (seeded requests, so the counts do not depend on timing).
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators import evaluate
from thinktank.evals.tasks.simulated import (
    AccuracySpread,
    SuiteSimulation,
    describe,
    load_accuracies,
    simulator_config,
)
from thinktank.evals.tasks.suites import load_suite
from thinktank.llm.simulator import SimulatorConfig, extract_answer, normalize_answer


@pytest.mark.parametrize("suite", ["math", "game24", "web"])
async def test_known_answers_are_right_and_wrong_answers_wrong_for_the_suite_evaluator(
    suite: str,
) -> None:
    """What the simulator says when right, the suite's own evaluator accepts; every wrong
    answer it may say instead, the evaluator rejects."""
    tasks = load_suite(suite)
    questions = SuiteSimulation().task_set(tasks)
    assert [q.id for q in questions.questions] == [t.id for t in tasks]
    for task, q in zip(tasks, questions.questions, strict=True):
        assert q.question == task.prompt
        assert (await evaluate(task, f"Answer: {q.answer}")).correct, (task.id, q.answer)
        assert len(q.wrong_answers) == 3 and q.wrong_weights == [3.0, 1.0, 1.0]
        for wrong in q.wrong_answers:
            assert not (await evaluate(task, f"Answer: {wrong}")).correct, (task.id, wrong)
            assert "variant" not in wrong, (task.id, wrong)  # plausible, not a marked dummy


def test_accuracies_are_seeded_per_task_spread_as_configured_and_overridable() -> None:
    tasks = load_suite("math")
    first = SuiteSimulation(seed=4).task_set(tasks)
    again = SuiteSimulation(seed=4).task_set(tasks[10:])  # a subset keeps its draws
    other = SuiteSimulation(seed=5).task_set(tasks)
    ps = {q.id: q.p_correct for q in first.questions}
    assert all(ps[q.id] == q.p_correct for q in again.questions)
    assert [q.p_correct for q in other.questions] != list(ps.values())
    # the default spread, Beta(2, 1.25), over many draws: mean 2 / 3.25
    spread = AccuracySpread.parse("beta:2,1.25")
    draws = [spread.draw(f"t{i}", 0) for i in range(4000)]
    assert abs(statistics.fmean(draws) - 2 / 3.25) < 0.02
    assert 0.1 < sum(p < 0.375 for p in draws) / len(draws) < 0.3
    uniform = [AccuracySpread.parse("uniform:0.2,0.4").draw(f"t{i}", 1) for i in range(500)]
    assert min(uniform) >= 0.2 and max(uniform) <= 0.4
    fixed = SuiteSimulation(accuracy=AccuracySpread.parse("0.7"), accuracies={"math-002": 0.1})
    qs = {q.id: q.p_correct for q in fixed.task_set(tasks).questions}
    assert qs["math-002"] == 0.1 and qs["math-001"] == 0.7
    assert "70 questions" in describe(fixed.task_set(tasks), fixed)
    for bad in ("beta:0,1", "1.5", "uniform:0.5,0.2", "normal:1,2", "x"):
        with pytest.raises(ConfigError, match="bad accuracy spread"):
            AccuracySpread.parse(bad)
    with pytest.raises(ConfigError, match="not in the suite"):
        SuiteSimulation(accuracies={"nope": 0.5}).task_set(tasks)


@pytest.mark.parametrize("suite", ["code", "swe"])
def test_suites_judged_by_running_programs_are_refused_with_the_reason(suite: str) -> None:
    with pytest.raises(ConfigError, match=r"cannot serve .*(programs|patches)"):
        SuiteSimulation().task_set(load_suite(suite))


def test_a_suite_joins_a_base_config_keeping_its_settings() -> None:
    base = SimulatorConfig.model_validate(
        {"seed": 3, "latency": 5, "synthetic": {"verifier_fpr": 0.3, "tasks": {"questions": [
            {"id": "extra", "question": "What is 1 + 1?", "answer": "2"}]}}}
    )  # fmt: skip
    cfg = simulator_config(load_suite("game24", n=5), SuiteSimulation(verifier_tpr=0.7), base)
    assert cfg.seed == 3 and cfg.latency.ms == 5
    assert cfg.synthetic is not None and cfg.synthetic.tasks is not None
    assert cfg.synthetic.verifier_tpr == 0.7 and cfg.synthetic.verifier_fpr == 0.3
    assert [q.id for q in cfg.synthetic.tasks.questions][:2] == ["extra", "game24-s0-000"]


def test_accuracies_file(tmp_path: Path) -> None:
    good = tmp_path / "acc.yaml"
    good.write_text("math-001: 0.25\nmath-002: 1\n")
    assert load_accuracies(str(good)) == {"math-001": 0.25, "math-002": 1.0}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- math-001\n")
    with pytest.raises(ConfigError, match="must map task ids"):
        load_accuracies(str(bad))


# --- the CLI, in a child process ---------------------------------------------------------


def _lines(stream: IO[str], k: int, timeout: float = 120.0) -> list[str]:
    """The first ``k`` lines of ``stream`` (a guard thread, so a dead child cannot hang us)."""
    out: list[str] = []

    def read() -> None:
        while len(out) < k and (line := stream.readline()):
            out.append(line.strip())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    return out


def _simulate(*args: str) -> subprocess.Popen[str]:
    code = "from thinktank.cli.app import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "models", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answers(client: httpx.Client, model: str, prompt: str, total: int) -> list[str]:
    """``total`` sampled replies, n=100 per request, seeds spaced by n (independent draws)."""
    replies: list[str] = []
    for seed in range(0, total, 100):
        body = {
            "model": model, "n": 100, "seed": seed, "temperature": 0.8,
            "messages": [{"role": "system", "content": "Solve the problem."},
                         {"role": "user", "content": prompt}],
        }  # fmt: skip
        r = client.post("/chat/completions", json=body)
        assert r.status_code == 200, r.text
        replies += [c["message"]["content"] for c in r.json()["choices"]]
    return replies


def test_models_simulate_suite_serves_known_answers_at_the_configured_rate(
    tmp_path: Path,
) -> None:
    accuracies = tmp_path / "acc.json"
    accuracies.write_text(json.dumps({"math-003": 0.3}))
    dump = tmp_path / "served.yaml"
    args = ["--suite", "math", "--seed", "3", "--accuracies", str(accuracies)]
    proc = _simulate(*args, "--name", "sim-math", "--write-tasks", str(dump))
    try:
        lines = _lines(proc.stdout, 2)  # type: ignore[arg-type]
        assert len(lines) == 2, proc.stderr.read() if proc.poll() is not None else lines  # type: ignore[union-attr]
        url, model = lines
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert model == f"openai:sim-math@{url}"
        tasks = {t.id: t for t in load_suite("math")}
        served = SuiteSimulation(seed=3, accuracies={"math-003": 0.3}).task_set(tasks.values())
        assert dump.is_file() and "math-003" in dump.read_text()
        with httpx.Client(base_url=url, timeout=60.0, trust_env=False) as client:
            names = [m["id"] for m in client.get("/models").json()["data"]]
            assert "sim" in names
            for qid, total in (("math-003", 1000), ("math-002", 1000), ("game24-s0-001", 400)):
                q = served.get(qid)
                assert q is not None and isinstance(q.p_correct, float)
                replies = _answers(client, "sim-math", tasks[qid].prompt, total)
                finals = [extract_answer(r) for r in replies]
                assert all(r.strip().splitlines()[-1].startswith("Answer: ") for r in replies)
                assert all(f is not None for f in finals)
                right = sum(normalize_answer(f or "") == normalize_answer(q.answer) for f in finals)
                allowed = {normalize_answer(a) for a in [q.answer, *q.wrong_answers]}
                assert {normalize_answer(f or "") for f in finals} <= allowed
                # binomial: 4.5 standard deviations (the draws are seeded: no flakes)
                sd = (q.p_correct * (1 - q.p_correct) / total) ** 0.5
                assert abs(right / total - q.p_correct) <= 4.5 * sd + 1e-9, (qid, right, q)
                wrong = [normalize_answer(f or "") for f in finals]
                first = sum(w == normalize_answer(q.wrong_answers[0]) for w in wrong)
                if total - right >= 100:  # wrong answers cluster on the first (60% of them)
                    assert first > 0.45 * (total - right), (qid, first, total - right)
            assert served.get("math-003").p_correct == 0.3  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert "simulating suite math" in err and "thinktank eval --suite math" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "code"], "cannot serve 24 task"),
        (["--suite", "math", "--accuracy", "beta:0,1"], "bad accuracy spread"),
        (["--accuracies", "x.yaml"], "only apply with --suite"),
        (["--suite", "nope"], "unknown suite"),
    ],
)
def test_models_simulate_bad_suite_arguments_fail_with_the_reason(
    args: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from thinktank.cli.app import app

    result = CliRunner().invoke(app, ["models", "simulate", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split()), result.output


def test_web_suite_aliases_reach_the_simulator() -> None:
    q: Any = SuiteSimulation().task_set(load_suite("web")).get("web-quillhaven-crossing")
    assert q.answer == "55 minutes" and "55 min" in q.aliases
    assert q.is_correct("55 min") and not q.is_correct(q.wrong_answers[0])
