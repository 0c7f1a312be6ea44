"""Judging a patch in a checked-out sandbox, the way the official SWE-bench harness does.

:func:`judge_patch` applies the patch (``git apply``, falling back to ``patch --fuzz``),
runs the evaluation script (:mod:`thinktank.evals.swe.scripts`: re-install, test files
reset and the test patch applied, the spec's test command), reads its output with the
instance's ``swebench`` log parser and grades it by the official rules
(:mod:`thinktank.evals.swe.logs`). A patch that does not apply is a verdict (not
resolved, with the reason), never an exception. The verdict keeps the logs' tails;
:func:`write_logs` writes all of them, the script and the report per instance.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from thinktank.evals.swe.config import Checkout, SWEHarnessConfig
from thinktank.evals.swe.logs import grade, read_test_log
from thinktank.evals.swe.patches import parse_apply_log, tail
from thinktank.evals.swe.repo import SWECase
from thinktank.evals.swe.scripts import MODEL_APPLY_SCRIPT, TEST_PATCH_FAILED, eval_script
from thinktank.evals.tasks.evaluators.base import Verdict

TEST_OUTPUT_CAP = 64 * 1024 * 1024
"""The test run's output is kept up to this size (full logs go to ``log_dir``)."""


async def judge_patch(
    co: Checkout, patch: str, config: SWEHarnessConfig, timings: dict[str, float]
) -> tuple[Verdict, dict[str, str]]:
    """Judge ``patch`` in the checkout ``co`` (a fresh one): ``(verdict, logs)``, the logs
    by name (``apply``, ``eval.sh``, ``tests``); ``timings`` gains ``apply_s`` and
    ``tests_s``."""
    cfg, case, sb = config, co.case, co.sandbox
    inst = case.instance
    t = time.perf_counter()
    patch_file = await sb.write_file(f"{sb.scratch_dir}/thinktank-model.patch", patch)
    applied = await sb.exec(
        ["/bin/sh", "-c", MODEL_APPLY_SCRIPT, "sh", co.repo, patch_file, str(cfg.fuzz)],
        timeout=cfg.apply_timeout_s,
    )
    timings["apply_s"] = time.perf_counter() - t
    apply = parse_apply_log(applied.output)
    logs = {"apply": applied.output}
    details: dict[str, Any] = {
        "instance_id": case.id,
        "patch_bytes": len(patch.encode()),
        "empty_patch": not patch.strip(),
        "apply_method": apply.method,
        "logs": {"apply": tail(applied.output, cfg.log_chars)},
    }
    if not apply.applied:
        reason = "patch does not apply: " + apply.error
        return Verdict.of(False, answer=patch, reason=reason, details=details), logs
    assert co.prepared is not None
    script = eval_script(inst, case.spec, co.prepared.layout, base=co.base_commit)
    logs["eval.sh"] = script
    script_file = await sb.write_file(f"{sb.scratch_dir}/thinktank-eval.sh", script)
    t = time.perf_counter()
    res = await sb.exec(
        ["bash", script_file],
        cwd=co.repo,
        timeout=cfg.test_timeout_s,
        output_cap=TEST_OUTPUT_CAP,
    )
    timings["tests_s"] = time.perf_counter() - t
    output = res.stdout + ("\n" + res.stderr if res.stderr else "")
    logs["tests"] = output
    parsed = read_test_log(output, parser=case.spec.log_parser, instance=inst.record())
    g = grade(
        parsed.statuses,
        inst.FAIL_TO_PASS,
        inst.PASS_TO_PASS,
        eval_type=case.spec.eval_type,
    )
    test_patch_ok = TEST_PATCH_FAILED not in output
    # a patch may print its own "PASSED" lines: a failing test command that the log
    # says had no failure is not believed (as the official harness does)
    lying = (
        parsed.exit_code not in (None, 0)
        and parsed.statuses
        and not any(s in ("FAILED", "ERROR") for s in parsed.statuses.values())
    )
    resolved = g.resolved and g.total > 0 and not res.timed_out and parsed.ran and not lying
    details.update(
        FAIL_TO_PASS=g.FAIL_TO_PASS,
        PASS_TO_PASS=g.PASS_TO_PASS,
        test_exit_code=parsed.exit_code if parsed.exit_code is not None else res.exit_code,
        test_timed_out=res.timed_out,
        test_patch_applied=test_patch_ok,
        parser=parsed.parser,
        parser_notes=parsed.notes,
        log_truncated=res.truncated,
        resolved=resolved,
    )
    details["logs"]["tests"] = tail(output, cfg.log_chars)
    prefix = "empty patch; " if not patch.strip() else ""
    if resolved:
        reason = f"resolved: {len(g.FAIL_TO_PASS)} FAIL_TO_PASS and {len(g.PASS_TO_PASS)} PASS_TO_PASS tests pass"
    elif res.timed_out:
        reason = f"tests timed out after {cfg.test_timeout_s:g} s"
    elif not parsed.ran:
        reason = f"{prefix}the evaluation script did not reach the end of the tests (exit {res.exit_code})"
    elif lying:
        reason = f"{prefix}the test command failed (exit {parsed.exit_code}) but its log reports no failure"
    elif not test_patch_ok and not g.resolved:
        reason = f"{prefix}the test patch does not apply (after the patch); {len(g.failing)} of {g.total} tests fail"
    else:
        shown = ", ".join(
            f"{i} ({g.FAIL_TO_PASS.get(i) or g.PASS_TO_PASS.get(i)})" for i in g.failing[:3]
        )
        more = f" and {len(g.failing) - 3} more" if len(g.failing) > 3 else ""
        reason = f"{prefix}not resolved: {len(g.failing)} of {g.total} tests fail: {shown}{more}"
    verdict = Verdict.of(
        resolved,
        score=g.passed / g.total if g.total else 0.0,
        answer=patch,
        reason=reason,
        details=details,
    )
    return verdict, logs


def write_logs(
    log_dir: str | None, case: SWECase, patch: str, verdict: Verdict, logs: dict[str, str]
) -> None:
    """With ``log_dir``, write ``<log_dir>/<instance_id>/`` (``-2``, ``-3``, … for further
    patches of the instance): the patch, the logs, the script and ``report.json``."""
    if not log_dir:
        return
    base = Path(log_dir) / case.id.replace("/", "_")
    base.parent.mkdir(parents=True, exist_ok=True)
    folder, n = base, 1
    while True:  # one folder per judged patch: <id>, <id>-2, … (several graphs, retries)
        try:
            folder.mkdir()
            break
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
    (folder / "patch.diff").write_text(patch, encoding="utf-8")
    for name, text in logs.items():
        target = folder / (name if "." in name else f"{name}.log")
        target.write_text(text, encoding="utf-8")
    report = verdict.model_dump(exclude={"answer"})
    report["details"] = {k: v for k, v in report["details"].items() if k != "logs"}
    (folder / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
