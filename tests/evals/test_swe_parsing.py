"""SWE harness pieces that need no Docker: apply-log and patch parsing, instance
resolution, local clones as repository sources, environment registration."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.environments import (
    CodeEnvironment,
    MathEnvironment,
    SWEEnvironment,
    WebEnvironment,
)
from thinktank.evals.environments.base import TaskContext, environment_for
from thinktank.evals.swe.loader import SWEInstance
from thinktank.evals.swe.patches import (
    extract_patch,
    looks_like_patch,
    parse_apply_log,
    touched_files,
)
from thinktank.evals.swe.repo import RepoCache, swe_case
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def test_apply_log_markers() -> None:
    ok = parse_apply_log("Applied patch a.py cleanly.\n@@APPLIED git apply\n@@TEST-PATCH-APPLIED\n")
    assert ok.applied and ok.method == "git apply" and ok.test_patch_applied and not ok.error
    fuzz = parse_apply_log(
        "error: patch failed: a.py:1\n@@GIT-APPLY-FAILED\nHunk #1 succeeded at 3 with fuzz 2.\n"
        "@@APPLIED patch --fuzz=3\n@@TEST-PATCH-APPLIED\n"
    )
    assert fuzz.applied and fuzz.method == "patch --fuzz=3"
    bad = parse_apply_log(
        "error: patch failed: a.py:1\nerror: a.py: patch does not apply\n@@GIT-APPLY-FAILED\n"
        "1 out of 1 hunk FAILED -- saving rejects to file a.py.rej\n@@APPLY-FAILED\n"
    )
    assert not bad.applied and bad.method is None
    assert "patch failed: a.py:1" in bad.error and "hunk FAILED" in bad.error
    empty = parse_apply_log("@@EMPTY\n@@TEST-PATCH-APPLIED\n")
    assert empty.applied and empty.method == "empty"
    tests = parse_apply_log(
        "@@APPLIED git apply\nerror: tests/t.py: No such file\n@@TEST-PATCH-FAILED\n"
    )
    assert tests.applied and not tests.test_patch_applied and "No such file" in tests.error
    assert "no repository" in parse_apply_log("@@ERROR no repository at /x\n").error


def test_patch_detection_and_extraction() -> None:
    assert (
        looks_like_patch(PATCH) and not looks_like_patch("Answer: 42") and not looks_like_patch("")
    )
    assert extract_patch(PATCH) == PATCH
    assert extract_patch("I fixed it:\n" + PATCH) == PATCH
    fenced = f"Here is the fix.\n```diff\n{PATCH}```\nAnswer: see above"
    assert extract_patch(fenced) == PATCH
    assert extract_patch("Answer: done") is None and extract_patch(None) is None
    plain = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2"
    assert extract_patch(plain) == plain + "\n"
    renamed = "diff --git a/t/old.py b/t/new.py\nrename from t/old.py\n" + PATCH.replace(
        "a.py", "t/x.py"
    )
    assert touched_files(renamed) == ["t/old.py", "t/new.py", "t/x.py"]


def test_cases_from_tasks_instances_and_names() -> None:
    task = load_suite("swe")[0]
    case = swe_case(task)
    assert case.bundled == task.metadata["bundled"] and case.spec.source == "bundled"
    assert swe_case(case.instance).bundled == case.bundled
    assert swe_case(case.bundled or "").id == case.id
    with pytest.raises(ConfigError, match="not an swe task"):
        swe_case(Task(id="m", kind="math", prompt="1+1?", expected=2))
    with pytest.raises(ConfigError, match="metadata\\['instance'\\]"):
        swe_case(Task(id="s", kind="swe", prompt="fix it"))


def _git(args: list[str], cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x.invalid", "HOME": str(cwd)}
    env |= {
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x.invalid",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def test_local_clone_is_snapshotted_at_the_base_commit(tmp_path: Path) -> None:
    clone = tmp_path / "repos" / "acme" / "tool"
    clone.mkdir(parents=True)
    (clone / "tool.py").write_text("VERSION = 1\n")
    _git(["init", "-q"], clone)
    _git(["add", "-A"], clone)
    _git(["commit", "-qm", "one"], clone)
    base = _git(["rev-parse", "HEAD"], clone)
    (clone / "tool.py").write_text("VERSION = 2\n")
    _git(["commit", "-qam", "two"], clone)
    inst = SWEInstance(
        instance_id="acme__tool-1", repo="acme/tool", base_commit=base, problem_statement="x"
    )
    cache = RepoCache(tmp_path / "repos")
    try:
        folder, commit = await cache.get(swe_case(inst))
        assert (folder / "tool.py").read_text() == "VERSION = 1\n"
        assert _git(["status", "--porcelain"], folder) == "" and len(commit) == 40
        assert await cache.get(swe_case(inst)) == (folder, commit)  # made once
        stale = inst.model_copy(update={"instance_id": "acme__tool-2", "base_commit": "f" * 40})
        with pytest.raises(ConfigError, match="fetch"):
            await cache.get(swe_case(stale))
    finally:
        cache.close()
    assert not folder.exists()
    with pytest.raises(ConfigError, match=r"git clone https://github\.com/acme/tool"):
        await RepoCache(None).get(swe_case(inst))
    with pytest.raises(ConfigError, match="no clone of other/tool"):
        await RepoCache(tmp_path / "repos").get(
            swe_case(inst.model_copy(update={"repo": "other/tool"}))
        )


def test_environments_are_registered() -> None:
    assert isinstance(environment_for("swe"), SWEEnvironment)
    assert isinstance(environment_for("web"), WebEnvironment)
    assert isinstance(environment_for("code"), CodeEnvironment)
    assert isinstance(environment_for("math", python=False), MathEnvironment)
    with pytest.raises(ConfigError, match="registered"):
        environment_for("poetry")


async def test_swe_patch_comes_from_a_diff_in_the_reply() -> None:
    env = SWEEnvironment()
    fenced = f"The fix:\n```diff\n{PATCH}```"
    assert await env.pick_patch(fenced, TaskContext()) == (PATCH, "submitted")
    assert await env.pick_patch("Answer: done", TaskContext(), output=PATCH) == (PATCH, "submitted")
    assert await env.pick_patch("Answer: done", TaskContext()) == ("", "none")
