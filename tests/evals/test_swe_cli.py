"""``thinktank swe`` and ``thinktank eval`` on SWE tasks through typer's CliRunner: a
model-driven run (the simulator replies with a diff) judged with verdicts, its patches
exported in the official predictions format, the file judged back with the official
report's fields; harness validation as JSON; bad input explained without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.evals.swe.suite import load_instance
from thinktank.llm.simulator import ScriptStep, SimulatorConfig, SimulatorServer
from thinktank.sandboxes.testing import require_docker

cli = CliRunner()
FIXED, UNFIXED = "tallyup", "pagekit"


def run(*args: str) -> tuple[int, str]:
    res = cli.invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """Two instances in the SWE-bench schema (bundled repositories, built locally)."""
    path = tmp_path / "instances.jsonl"
    path.write_text("".join(json.dumps(load_instance(n).record()) + "\n" for n in (FIXED, UNFIXED)))
    return path


@pytest.mark.docker
def test_a_model_run_exports_predictions_that_judge_back_like_its_verdicts(
    tmp_path: Path, suite: Path
) -> None:
    require_docker()
    gold = load_instance(FIXED).patch
    config = SimulatorConfig(
        script=[ScriptStep(content=f"Fixed it.\n```diff\n{gold}```\nAnswer: done")],
        script_exhausted="fallback",
        default_reply="I could not find the bug.\nAnswer: nothing",
    )
    out = tmp_path / "run"
    with SimulatorServer(config) as sim:
        code, text = run(
            "eval", "--suite", str(suite), "--graph", "single", "--model",
            f"openai:sim@{sim.base_url}", "--out", str(out), "-c", "1", "--swe-env", "clone",
            "--swe-logs", str(tmp_path / "logs"), "--no-report",
        )  # fmt: skip
    assert code == 0, text
    assert "2 recorded" in text and "0 errors" in text
    code, text = run("swe", "predictions", str(out), "-o", str(tmp_path / "preds.jsonl"))
    assert code == 0 and "2 predictions (1 empty)" in text, text
    preds = [json.loads(x) for x in (tmp_path / "preds.jsonl").read_text().splitlines()]
    fixed_id, unfixed_id = (load_instance(n).instance_id for n in (FIXED, UNFIXED))
    assert [p["instance_id"] for p in preds] == [fixed_id, unfixed_id]
    assert (
        preds[0]["model_name_or_path"] == "thinktank/single"
        and "diff --git" in preds[0]["model_patch"]
    )
    assert not (preds[1]["model_patch"] or "").strip()
    assert {p.name.split("-")[0] for p in (tmp_path / "logs").iterdir()} >= {fixed_id.split("-")[0]}
    report = tmp_path / "report.json"
    code, text = run(
        "swe", "judge", "--predictions", str(tmp_path / "preds.jsonl"), "--suite", str(suite),
        "--swe-env", "clone", "-o", str(report),
    )  # fmt: skip
    assert code == 0, text
    data = json.loads(report.read_text())
    assert data["resolved_ids"] == [fixed_id] and data["empty_patch_ids"] == [unfixed_id]
    assert data["instances"][fixed_id]["tests_status"]["FAIL_TO_PASS"]["failure"] == []
    assert "1 resolved, 0 unresolved, 0 errors, 1 empty patches of 2 submitted" in text


@pytest.mark.docker
def test_gold_validation_as_json(suite: Path) -> None:
    require_docker()
    code, text = run(
        "swe", "gold", "--suite", str(suite), "-i", load_instance(FIXED).instance_id, "--json"
    )
    assert code == 0, text
    report = json.loads(text[text.index("{") :])
    assert report["ok"] and report["results"][0]["gold_resolved"]


def test_bad_input_is_explained(tmp_path: Path, suite: Path) -> None:
    cases = [
        (["swe", "judge"], "give a PATCH file with -i ID, or --predictions FILE"),
        (["swe", "gold", "--suite", str(suite), "--swe-env", "docker"], "valid: auto, clone, build, official"),
        (["swe", "gold", "--suite", str(suite), "--swe-data", "x"], "write REPO=HOST_DIR:SANDBOX_DIR"),
        (["swe", "gold", "--suite", str(suite), "--swe-data", "a/b=/nonexistent:/d"], "no folder /nonexistent"),
        (["swe", "gold", "--suite", str(suite), "--swe-data", f"a/b={tmp_path}:rel"], "must be an absolute path"),
        (["swe", "judge", "--predictions", str(suite), "-i", "x"], "-i goes with a PATCH file"),
        (["swe", "gold", "--suite", str(suite), "--swe-image", "x:latest"], "has no {id}"),
        (["swe", "gold", "--suite", str(suite), "--repos", str(tmp_path / "none")], "no such folder"),
        (["swe", "gold", "--suite", str(suite), "-i", "nope__x-1"], "unknown instance(s) ['nope__x-1']"),
        (["swe", "predictions", str(tmp_path), "-o", str(tmp_path / "p.jsonl")], "not a run directory"),
        (["eval", "--suite", str(suite), "--graph", "single", "--out", str(tmp_path / "r"),
          "--swe-env", "nope"], "valid: auto, clone, build, official"),
        (["eval", "--suite", str(suite), "--graph", "single", "--out", str(tmp_path / "r"),
          "--sandbox", str(suite)], "sandbox config"),
    ]  # fmt: skip
    for args, expected in cases:
        code, text = run(*args)
        assert code != 0 and expected in " ".join(text.split()), (args, text)
        assert "Traceback" not in text
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        json.dumps({"instance_id": "nope__x-1", "model_name_or_path": "m", "model_patch": "x"})
        + "\n"
    )
    code, text = run("swe", "judge", "--predictions", str(preds), "--suite", str(suite))
    assert code == 2 and "predictions for instances not in the suite: nope__x-1" in text
