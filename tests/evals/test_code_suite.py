"""The bundled code suite is consistent: every canonical solution passes its hidden
tests in a subprocess, and a stub body fails them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.suites.bundled import code_records

RECORDS = code_records()


def run_program(source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "prog.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def test_suite_shape() -> None:
    assert len(RECORDS) >= 20
    ids = [r["task_id"] for r in RECORDS]
    assert len(set(ids)) == len(ids)
    for r in RECORDS:
        assert set(r) >= {"task_id", "prompt", "entry_point", "canonical_solution", "test"}
        assert f"def {r['entry_point']}(" in r["prompt"]
        assert '"""' in r["prompt"] and "def check(candidate)" in r["test"]
        assert r["canonical_solution"].startswith("    ")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["task_id"])
def test_canonical_solution_passes(record: dict[str, str], tmp_path: Path) -> None:
    source = (
        record["prompt"]
        + record["canonical_solution"]
        + "\n\n"
        + record["test"]
        + f"\n\ncheck({record['entry_point']})\n"
    )
    proc = run_program(source, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["task_id"])
def test_stub_fails(record: dict[str, str], tmp_path: Path) -> None:
    source = (
        record["prompt"]
        + "    return None\n\n"
        + record["test"]
        + f"\n\ncheck({record['entry_point']})\n"
    )
    assert run_program(source, tmp_path).returncode != 0


def test_tasks_carry_tests() -> None:
    tasks = load_suite("code")
    assert len(tasks) == len(RECORDS)
    for t in tasks:
        assert t.kind == "code"
        assert t.metadata["entry_point"] and t.metadata["test"] and t.metadata["code_prompt"]
        assert t.metadata["code_prompt"] in t.prompt
