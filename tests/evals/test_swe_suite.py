"""The bundled SWE instances are consistent: built locally with git + pytest (no Docker),
FAIL_TO_PASS fail and PASS_TO_PASS pass before the gold patch, all pass after it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from thinktank.errors import ConfigError, InfrastructureError
from thinktank.evals.swe.suite import (
    TEST_CMD,
    TEST_ENV,
    build_repo,
    git_env,
    instance_names,
    load_instance,
    load_swe_suite,
    parse_pytest_report,
    repo_files,
)

NAMES = instance_names()


def run_tests(repo: Path, ids: list[str]) -> dict[str, str]:
    cmd = [sys.executable, *TEST_CMD.split()[1:], *ids]
    env = {**os.environ, **TEST_ENV}
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=120)
    report = parse_pytest_report(proc.stdout)
    return {i: report.get(i, "MISSING") for i in ids}


def git_apply(repo: Path, patch: str, date: str) -> None:
    proc = subprocess.run(
        ["git", "apply", "-"],
        cwd=repo,
        input=patch,
        capture_output=True,
        text=True,
        env=git_env(date),
    )
    assert proc.returncode == 0, proc.stderr


def test_suite_has_at_least_six_instances() -> None:
    assert len(NAMES) >= 6
    tasks = load_swe_suite()
    assert [t.kind for t in tasks] == ["swe"] * len(NAMES)
    assert len({t.id for t in tasks}) == len(tasks)


@pytest.mark.parametrize("name", NAMES)
def test_instance_schema(name: str) -> None:
    inst = load_instance(name)
    record = inst.record()
    for field in (
        "instance_id", "repo", "base_commit", "problem_statement", "patch", "test_patch",
        "FAIL_TO_PASS", "PASS_TO_PASS", "version", "environment_setup_commit", "hints_text",
        "created_at",
    ):  # fmt: skip
        assert field in record
    assert isinstance(record["FAIL_TO_PASS"], str) and record["FAIL_TO_PASS"].startswith("[")
    assert inst.FAIL_TO_PASS and inst.PASS_TO_PASS
    assert not set(inst.FAIL_TO_PASS) & set(inst.PASS_TO_PASS)
    assert len(inst.base_commit) == 40
    files = repo_files(name)
    assert any(p.startswith("tests/") for p in files) and len(files) >= 5
    # The gold patch touches source only; the test patch touches tests only.
    gold_files = re.findall(r"^diff --git a/(\S+) b/", inst.patch, flags=re.M)
    assert gold_files and not any(f.startswith("tests/") for f in gold_files)
    assert inst.test_files() and all(f.startswith("tests/") for f in inst.test_files())


@pytest.mark.parametrize("name", NAMES)
def test_gold_patch_resolves_instance(name: str, tmp_path: Path) -> None:
    inst = load_instance(name)
    repo = tmp_path / "repo"
    commit = build_repo(name, repo)
    assert commit == inst.base_commit  # deterministic hash, as recorded

    before_tests = run_tests(repo, inst.PASS_TO_PASS)
    assert set(before_tests.values()) == {"PASSED"}, before_tests

    git_apply(repo, inst.test_patch, inst.created_at)
    before = run_tests(repo, inst.FAIL_TO_PASS + inst.PASS_TO_PASS)
    for test_id in inst.FAIL_TO_PASS:
        assert before[test_id] in ("FAILED", "ERROR"), (test_id, before[test_id])
    for test_id in inst.PASS_TO_PASS:
        assert before[test_id] == "PASSED", (test_id, before[test_id])

    git_apply(repo, inst.patch, inst.created_at)
    after = run_tests(repo, inst.FAIL_TO_PASS + inst.PASS_TO_PASS)
    assert set(after.values()) == {"PASSED"}, after


def test_build_repo_is_reproducible_and_checked(tmp_path: Path) -> None:
    name = NAMES[0]
    first = build_repo(name, tmp_path / "a")
    second = build_repo(name, tmp_path / "b")
    assert first == second
    with pytest.raises(ConfigError, match="not empty"):
        build_repo(name, tmp_path / "a")
    with pytest.raises(ConfigError, match="valid: "):
        build_repo("no-such-instance", tmp_path / "c")


def test_build_repo_accepts_instance_id(tmp_path: Path) -> None:
    inst = load_instance(NAMES[0])
    assert build_repo(inst.instance_id, tmp_path / "r") == inst.base_commit


def test_parse_pytest_report() -> None:
    out = (
        "===== short test summary info =====\n"
        "PASSED tests/test_a.py::test_one\n"
        "FAILED tests/test_a.py::test_two - AssertionError: boom\n"
        "ERROR tests/test_b.py::test_three - ImportError\n"
    )
    assert parse_pytest_report(out) == {
        "tests/test_a.py::test_one": "PASSED",
        "tests/test_a.py::test_two": "FAILED",
        "tests/test_b.py::test_three": "ERROR",
    }


def test_mismatched_commit_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import thinktank.evals.swe.suite as swe

    original = swe.load_instance

    def tampered(name: str):  # type: ignore[no-untyped-def]
        inst = original(name)
        return inst.model_copy(update={"created_at": "2020-01-01T00:00:00Z"})

    monkeypatch.setattr(swe, "load_instance", tampered)
    with pytest.raises(InfrastructureError, match="differs from the recorded base_commit"):
        swe.build_repo(NAMES[0], tmp_path / "x")
