"""The SWE harness and environment through real Docker sandboxes.

Gold patches resolve every bundled instance and empty patches fail each; a scripted
agent fixes an instance with the SWE tools through a compiled graph and the harness
marks it resolved; best-of-n samples edit separate checkouts; a patch that does not
apply is a verdict with a reason; a public-style instance comes from a local clone.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.evals.environments.swe import SWEEnvironment
from thinktank.evals.swe.gold import validate_gold
from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.loader import SWEInstance, SWESpec, swe_task
from thinktank.evals.swe.suite import load_instance
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.task import Task
from thinktank.graphs.compiler import RunResult, compile
from thinktank.graphs.topologies.best_of_n import best_of_n
from thinktank.graphs.topologies.single import single
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.sandboxes import DockerSandboxConfig, SandboxProvider
from thinktank.sandboxes.testing import require_docker

pytestmark = pytest.mark.docker

FIX = [
    {"name": "grep", "arguments": {"pattern": "def num_pages", "include": "*.py"}},
    {
        "name": "str_replace",
        "arguments": {
            "path": "pagekit/paginator.py",
            "old_str": "return self.count // self.per_page + 1",
            "new_str": "return -(-self.count // self.per_page)",
        },
    },
    {"name": "bash", "arguments": {"command": "python -m pytest -q -p no:cacheprovider"}},
]
SUBMIT = {"name": "submit", "arguments": {}}
TOOLS = ["view", "grep", "str_replace", "bash", "submit"]


def agent(steps: list[Any]) -> FunctionModel:
    """A model that plays ``steps`` in order within each conversation (so parallel
    samples each play the whole script), then answers in text."""

    def reply(request: ChatRequest) -> Any:
        k = sum(1 for m in request.messages if m["role"] == "assistant")
        return steps[k] if k < len(steps) else "I changed the code.\nAnswer: done"

    return FunctionModel(reply)


@pytest.fixture(scope="module")
def provider() -> Iterator[SandboxProvider]:
    require_docker()
    yield DockerSandboxConfig().build()


def pagekit() -> Task:
    return next(t for t in load_suite("swe") if t.metadata["bundled"] == "pagekit")


async def run_graph(
    env: SWEEnvironment, task: Task, spec: Any, model: Any
) -> tuple[Any, RunResult]:
    ctx = await env.open(task)
    graph = compile(spec, models=model, tools=ctx.tools)
    payload = {"id": task.id, "prompt": ctx.prompt, "kind": task.kind, "metadata": task.metadata}
    result = await graph.run(payload)
    return ctx, result


def winner_output(result: RunResult) -> Any:
    win = result.selection.winner if result.selection else None
    return next((o.output for o in result.trace.outputs if o.id == win), None)


async def test_gold_patches_resolve_and_empty_patches_fail(provider: SandboxProvider) -> None:
    tasks = load_suite("swe")
    report = await validate_gold(tasks, provider, concurrency=4)
    assert report.ok, [r.model_dump() for r in report.failures]
    assert len(report.results) == len(tasks) >= 6
    for r in report.results:
        assert r.gold_resolved and r.empty_resolved is False and not r.notes
        assert r.gold_reason.startswith("resolved")
        assert r.empty_reason.startswith("empty patch; not resolved")


async def test_scripted_agent_resolves_an_instance_through_a_graph(
    provider: SandboxProvider, tmp_path: Path
) -> None:
    env = SWEEnvironment(provider=provider, log_dir=tmp_path / "logs")
    task = pagekit()
    try:
        ctx, result = await run_graph(
            env,
            task,
            single(tools=["grep", "str_replace", "bash", "submit"]),
            agent([*FIX, SUBMIT]),
        )
        assert "<issue>" in (ctx.prompt or "") and ctx.data["repo"] in (ctx.prompt or "")
        steps = result.trace.outputs[0].trajectory["steps"]
        calls = [c for s in steps for c in s["tool_calls"]]
        assert [c["name"] for c in calls] == ["grep", "str_replace", "bash", "submit"]
        assert not any(c["is_error"] for c in calls), calls
        assert "passed" in calls[2]["content"]
        assert result.status == "ok" and result.answer and result.answer.startswith("diff --git")
        verdict = await env.evaluate(task, result.answer, ctx, output=winner_output(result))
        await ctx.aclose()
    finally:
        await env.close()
    assert verdict.correct and verdict.score == 1.0, verdict.reason
    assert verdict.details["patch_source"] == "submitted"
    assert verdict.details["apply_method"] == "git apply"
    assert set(verdict.details["FAIL_TO_PASS"].values()) == {"PASSED"}
    assert "passed" in verdict.details["logs"]["tests"]
    folder = tmp_path / "logs" / task.id
    report = json.loads((folder / "report.json").read_text())
    assert report["correct"] and (folder / "tests.log").is_file()
    assert (folder / "patch.diff").read_text() == result.answer


async def test_best_of_n_samples_edit_separate_checkouts(provider: SandboxProvider) -> None:
    env = SWEEnvironment(provider=provider)
    task = pagekit()
    try:
        # both samples make the same edit: in a shared checkout the second would fail
        ctx, result = await run_graph(env, task, best_of_n(2, tools=TOOLS), agent([*FIX, SUBMIT]))
        outs = [o for o in result.trace.outputs if o.role == "solver"]
        assert len(outs) == 2 and len(ctx.data["workspaces"].spaces) == 2
        for o in outs:
            calls = [c for s in o.trajectory["steps"] for c in s["tool_calls"]]
            assert not any(c["is_error"] for c in calls), calls
        assert outs[0].output == outs[1].output == result.answer
        verdict = await env.evaluate(task, result.answer, ctx, output=winner_output(result))
        await ctx.aclose()
    finally:
        await env.close()
    assert verdict.correct, verdict.reason


async def test_edits_without_submit_are_judged_from_the_checkout(
    provider: SandboxProvider,
) -> None:
    env = SWEEnvironment(provider=provider)
    task = pagekit()
    try:
        ctx, result = await run_graph(env, task, single(tools=TOOLS), agent(FIX))
        assert result.answer == "done"
        verdict = await env.evaluate(task, result.answer, ctx, output=winner_output(result))
        await ctx.aclose()
    finally:
        await env.close()
    assert verdict.correct and verdict.details["patch_source"] == "workspace", verdict.reason


async def test_patches_that_do_not_apply_are_verdicts_and_fuzz_is_tried(
    provider: SandboxProvider,
) -> None:
    harness = SWEHarness(provider)
    task = pagekit()
    gold = load_instance("pagekit").patch
    try:
        broken = gold.replace(
            "-        return self.count // self.per_page + 1", "-        return 0"
        )
        bad = await harness.evaluate(task, broken)
        # context drift git apply refuses but patch --fuzz accepts
        drifted = gold.replace(
            "     def validate(self, number: object) -> int:", "     def validate(self, n):"
        )
        fuzzy = await harness.evaluate(task, drifted)
        garbage = await harness.evaluate(task, "diff --git a/x b/x\nthis is not a patch\n")
    finally:
        await harness.aclose()
    assert not bad.correct and bad.reason.startswith("patch does not apply"), bad.reason
    assert bad.details["apply_method"] is None and "FAILED" in bad.details["logs"]["apply"]
    assert fuzzy.correct and fuzzy.details["apply_method"] == "patch --fuzz=3", fuzzy.reason
    assert not garbage.correct and garbage.reason.startswith("patch does not apply")


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


async def test_public_instance_from_a_local_clone(
    provider: SandboxProvider, tmp_path: Path
) -> None:
    clone = tmp_path / "repos" / "acme__calc"
    clone.mkdir(parents=True)
    (clone / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (clone / "tests").mkdir()
    (clone / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    )
    _git(["init", "-q"], clone)
    _git(["add", "-A"], clone)
    _git(["commit", "-qm", "base"], clone)
    base = _git(["rev-parse", "HEAD"], clone)
    (clone / "calc.py").write_text("def add(a, b):\n    return 0  # a later, unrelated commit\n")
    _git(["commit", "-qam", "later"], clone)
    patch = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    test_patch = (
        "diff --git a/tests/test_calc.py b/tests/test_calc.py\n--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n"
        "@@ -4,2 +4,6 @@ from calc import add\n def test_zero():\n     assert add(0, 0) == 0\n+\n+\n+def test_add():\n+    assert add(2, 3) == 5\n"
    )
    inst = SWEInstance(
        instance_id="acme__calc-1", repo="acme/calc", base_commit=base,
        problem_statement="add() subtracts", patch=patch, test_patch=test_patch,
        FAIL_TO_PASS=["tests/test_calc.py::test_add"], PASS_TO_PASS=["tests/test_calc.py::test_zero"],
    )  # fmt: skip
    spec = SWESpec(source="fallback", test_cmd="python -m pytest -rA -p no:cacheprovider",
                   test_directives=inst.test_files())  # fmt: skip
    task = swe_task(inst, spec, source="test")
    report = await validate_gold([task], provider, config={"repos": str(tmp_path / "repos")})
    assert report.ok, report.model_dump()
    missing = await validate_gold([task], provider)
    assert not missing.ok and "git clone https://github.com/acme/calc" in (
        missing.results[0].error or ""
    )


def _two_fixes() -> FunctionModel:
    """Samples alternate, by the order they start, between the right fix and a wrong
    one (floor division: off for counts that are multiples of the page size)."""
    wrong = {
        **FIX[1],
        "arguments": {**FIX[1]["arguments"], "new_str": "return self.count // self.per_page"},
    }
    order: dict[Any, int] = {}

    def reply(request: ChatRequest) -> Any:
        k = sum(1 for m in request.messages if m["role"] == "assistant")
        which = order.setdefault(request.seed, len(order)) % 2
        steps = [FIX[0], FIX[1] if which == 0 else wrong, SUBMIT]
        return steps[k] if k < len(steps) else "I changed the code.\nAnswer: done"

    return FunctionModel(reply)


async def test_every_distinct_candidate_patch_is_judged_once_for_the_selection_gap(
    provider: SandboxProvider, tmp_path: Path
) -> None:
    from thinktank.evals.reports.report import load_report_data
    from thinktank.evals.runs.records import RunDatabase
    from thinktank.evals.runs.runner import Runner

    env_options = {"swe": {"provider": provider, "judge_candidates": True}}
    out = tmp_path / "run"
    await Runner(
        [pagekit()], ["best_of_n:n=3"], _two_fixes(), out_dir=out, progress=False,
        environment_options=env_options, check_models=False,
    ).run()  # fmt: skip
    with RunDatabase.open(out) as db:
        [rec] = db.records(with_result=True)
    assert rec.status != "error", rec.error
    assert rec.result is not None and len(rec.result.candidates) == 3
    right = ["return -(-self.count // self.per_page)" in (c.answer or "") for c in rec.result.candidates]  # fmt: skip
    assert sorted(right) == [False, True, True]  # the script made two right, one wrong
    assert rec.sample_correct == right  # each candidate judged by the tests
    gap = load_report_data(out, plots=False).stats[0].selection
    assert gap is not None and gap.tasks == 1
    assert gap.mean.value == pytest.approx(2 / 3) and gap.oracle.value == 1.0
    # without the option only the selected patch is judged
    plain = tmp_path / "plain"
    await Runner(
        [pagekit()], ["best_of_n:n=3"], _two_fixes(), out_dir=plain, progress=False,
        environment_options={"swe": {"provider": provider}}, check_models=False,
    ).run()  # fmt: skip
    with RunDatabase.open(plain) as db:
        assert db.records()[0].sample_correct is None


async def test_candidate_patches_are_judged_once_per_distinct_patch(
    provider: SandboxProvider,
) -> None:
    env = SWEEnvironment(provider=provider, judge_candidates=True)
    task = pagekit()
    judged: list[str] = []
    try:
        harness = await env._harness()
        real = harness.evaluate

        async def counting(task: Task, patch: str) -> Any:
            judged.append(patch)
            return await real(task, patch)

        harness.evaluate = counting  # type: ignore[method-assign]
        ctx, result = await run_graph(env, task, best_of_n(3, tools=TOOLS), _two_fixes())
        verdict = await env.evaluate(task, result.answer, ctx, output=winner_output(result))
        marks = await env.judge_candidates(task, result, ctx)
        again = await env.judge_candidates(task, result, ctx)
        await ctx.aclose()
    finally:
        await env.close()
    assert marks == again and marks is not None and sorted(marks) == [False, True, True]
    assert verdict.correct is marks[[c.answer for c in result.candidates].index(result.answer)]
    assert len(judged) == len(set(judged)) == 2  # the selected patch's verdict was reused
