"""``thinktank optimize`` with confirmation and held-out splits, on the simulator."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.optimize import lucky as K
from thinktank.cli.app import app
from thinktank.evals.tasks.task import dump_tasks
from thinktank.graphs.spec import GraphSpec


def _files(tmp_path: Path) -> dict[str, Path]:
    space = tmp_path / "space.yaml"
    space.write_text(K.SPACE_YAML)
    out = {"space": space}
    for split in ("dev", "confirm", "held"):
        out[split] = dump_tasks(K.tasks(split), tmp_path / f"{split}.jsonl")
    return out


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_split_files_re_evaluation_and_held_out_end_to_end(tmp_path: Path) -> None:
    f = _files(tmp_path)
    out = tmp_path / "opt"
    with K.simulator() as (_, pool):
        code, text = _invoke(
            "optimize", "--suite", str(f["dev"]), "--confirm", str(f["confirm"]),
            "--holdout", str(f["held"]), "--space", str(f["space"]), "--algo", "grid",
            "--model-pool", ",".join(f"{a}={m}" for a, m in pool.items()),
            "--budget-usd", "1", "--env-opt", "math.python=false", "--out", str(out),
        )  # fmt: skip
    assert code == 0, text
    assert "on 10 dev tasks" in text and "(30 for confirmation, 20 held out)" in text
    assert "re-evaluating the top 2 graph(s) on 30 confirmation tasks" in text
    assert "running the best graph (then 1 other candidate(s)" in text
    assert "dev + confirmation: 80.0% [" in text and "chosen over the dev leader" in text
    assert "held-out: 80.0% [58.4%, 91.9%] on 20 tasks (never used to choose)" in text
    assert K.model_of(GraphSpec.load(out / "best.yaml").description) == "sound"
    summary = json.loads((out / "study.json").read_text())
    assert summary["selection"]["status"] == "confirmed"
    assert summary["selection"]["holdout_tasks"] == 20
    report = (out / "report.md").read_text()
    assert "held-out (after the choice, never used to choose) | 20 | 80.0%" in report


def test_fractions_split_the_suite_by_seed_and_top_k_0_skips_re_evaluation(
    tmp_path: Path,
) -> None:
    f = _files(tmp_path)
    every = dump_tasks(K.tasks("dev") + K.tasks("confirm"), tmp_path / "all.jsonl")  # 40 tasks
    runs = {}
    with K.simulator() as (_, pool):
        for name, extra in (("a", []), ("b", []), ("off", ["--top-k", "0"])):
            out = tmp_path / name
            code, text = _invoke(
                "optimize", "--suite", str(every), "--tasks", "30", "--confirm", "0.2",
                "--holdout", "0.3", "--space", str(f["space"]), "--algo", "grid",
                "--model-pool", ",".join(f"{a}={m}" for a, m in pool.items()),
                "--env-opt", "math.python=false", "--out", str(out), "--seed", "4", *extra,
            )  # fmt: skip
            assert code == 0, text
            assert "on 15 dev tasks" in text and "(6 for confirmation, 9 held out)" in text
            runs[name] = json.loads((out / "study.json").read_text())["selection"]
    assert runs["a"] == runs["b"]  # the same seed, the same splits and figures
    assert runs["a"]["confirm_tasks"] == 6 and runs["a"]["holdout_tasks"] == 9
    assert runs["off"]["status"] == "off" and runs["off"]["holdout_status"] == "evaluated"


def test_bad_split_values_say_what_to_do(tmp_path: Path) -> None:
    f = _files(tmp_path)
    base = ["optimize", "--suite", str(f["dev"]), "--space", str(f["space"]),
            "--model-pool", ",".join(f"{m}=openai:opt-{m}@http://127.0.0.1:9" for m in K.MODELS),
            "--no-check-models"]  # fmt: skip
    code, text = _invoke(*base, "--out", str(tmp_path / "a"), "--holdout", "1.5")
    assert code == 1 and "--holdout takes a fraction of the tasks in [0, 1)" in text
    assert "Traceback" not in text
    code, text = _invoke(
        *base, "--out", str(tmp_path / "b"), "--confirm", "0.6", "--holdout", "0.4"
    )
    assert code == 1 and "too few" in text and "lower --holdout / --confirm" in text
    # a held-out file that repeats dev tasks is no held-out set
    code, text = _invoke(
        *base, "--out", str(tmp_path / "c"), "--holdout", str(f["dev"]), "--confirm", "0"
    )
    assert code == 1 and "in both the dev set and the held-out set" in text, text
    assert "Traceback" not in text


def test_resuming_with_other_splits_names_the_flags(tmp_path: Path) -> None:
    f = _files(tmp_path)
    out = tmp_path / "opt"
    with K.simulator() as (_, pool):
        args = ["optimize", "--suite", str(f["dev"]), "--space", str(f["space"]),
                "--algo", "grid", "--env-opt", "math.python=false", "--out", str(out),
                "--model-pool", ",".join(f"{a}={m}" for a, m in pool.items())]  # fmt: skip
        code, text = _invoke(*args, "--confirm", "0", "--holdout", "0")
        assert code == 0, text
        assert "held-out: no_tasks" in text and "selection: no_tasks" in text
        code, text = _invoke(*args)  # the default splits: another dev set
    assert code == 1 and "made with a different tasks" in text
    assert "--confirm 0 --holdout 0" in text
