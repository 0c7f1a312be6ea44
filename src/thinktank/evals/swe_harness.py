"""The SWE harness: repositories in sandboxes, and patches judged by tests in fresh ones.

Two jobs, one class (:class:`SWEHarness`):

* :meth:`~SWEHarness.checkout` puts an instance's repository at its base commit
  into a sandbox the agents work in (the SWE tools and ``bash`` run there);
* :meth:`~SWEHarness.evaluate` judges a patch in a **fresh** sandbox: the repository
  at the base commit, the patch applied (``git apply``, falling back to
  ``patch --fuzz``), the test files of the test patch reset to the base commit and
  the test patch applied, then FAIL_TO_PASS and PASS_TO_PASS run. The instance is
  resolved iff every one of those tests passes. A patch that does not apply is a
  verdict (not resolved, with the reason), never an exception. Logs are kept in
  the verdict's ``details`` and, with ``log_dir``, written per instance.

:func:`validate_gold` checks the harness itself (``thinktank swe gold``): every
instance must resolve with its gold patch and must not with an empty patch.

Repositories come from :class:`~thinktank.evals._swe_repo.RepoCache` (bundled
instances are built locally; public SWE-bench instances need a local clone, or an
image that already holds the repository with ``image_repo=True`` — the
``swebench`` package builds such environment images; point
``DockerSandboxConfig(image=..., read_only_root=False, user="0:0")`` at one and set
``repo_dir="/testbed"``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thinktank.evals._swe_repo import RepoCache, SWECase, swe_case
from thinktank.evals._swe_tests import (
    APPLY_SCRIPT,
    PYTHON_SHIM,
    looks_like_patch,
    parse_apply_log,
    parse_test_log,
    patches_tar,
    tail,
    touched_files,
)
from thinktank.evals.evaluators.base import Verdict
from thinktank.evals.suites.loaders.swebench import SWEInstance
from thinktank.evals.task import Task
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.provider import SandboxProvider

PASSING = frozenset({"PASSED", "XFAIL"})
"""Test statuses that count as passing (SWE-bench counts expected failures as passing)."""


class SWEHarnessConfig(BaseModel):
    """How the harness prepares repositories and runs tests."""

    model_config = ConfigDict(extra="forbid")

    repo_dir: str = "repo"
    """Sandbox path of the repository (relative paths are under the sandbox work dir)."""
    repos: str | None = Field(default_factory=lambda: os.environ.get("THINKTANK_SWE_REPOS"))
    """Host folder of local clones for public instances (``<owner>__<name>``); default
    ``$THINKTANK_SWE_REPOS``."""
    image_repo: bool = False
    """The sandbox image already holds the repository at ``repo_dir`` (e.g. SWE-bench
    environment images at ``/testbed``): it is reset to the base commit, not uploaded."""
    setup: bool = True
    """Run the spec's ``pre_install``/``install`` commands after checkout (none for bundled)."""
    setup_timeout_s: float = Field(default=1800.0, gt=0)
    """Limit for the set-up commands."""
    apply_timeout_s: float = Field(default=120.0, gt=0)
    """Limit for applying the patches."""
    test_timeout_s: float = Field(default=900.0, gt=0)
    """Limit for the test run; a timeout fails the instance."""
    fuzz: int = Field(default=3, ge=0)
    """``patch --fuzz`` used when ``git apply`` refuses the patch."""
    log_chars: int = Field(default=20_000, ge=1000)
    """How much of each log the verdict keeps (the tail)."""
    log_dir: str | None = None
    """When set, ``<log_dir>/<instance_id>/`` gets the patch, the logs and the report."""


@dataclass
class Checkout:
    """A repository placed in a sandbox."""

    sandbox: Sandbox
    repo: str
    """Absolute sandbox path of the repository root."""
    base_commit: str
    """The commit patches are diffs against (the snapshot's for public instances)."""
    case: SWECase


class SWEHarness:
    """Checks out SWE instances in sandboxes from ``provider`` and judges patches."""

    def __init__(
        self, provider: SandboxProvider, config: SWEHarnessConfig | dict[str, Any] | None = None
    ) -> None:
        self.provider = provider
        self.config = (
            config if isinstance(config, SWEHarnessConfig) else SWEHarnessConfig(**(config or {}))
        )
        self.cache = RepoCache(self.config.repos)

    async def checkout(self, sandbox: Sandbox, item: Task | SWEInstance | SWECase) -> Checkout:
        """Put the instance's repository at its base commit into ``sandbox`` (and set it up)."""
        case = item if isinstance(item, SWECase) else swe_case(item)
        cfg = self.config
        repo = sandbox.path(cfg.repo_dir)
        if cfg.image_repo:
            base = case.instance.base_commit
            q = shlex.quote(base)
            res = await sandbox.exec(
                # no `git clean`: environment images keep build products (egg-info) there
                f"git reset -q --hard {q}",
                cwd=repo,
                timeout=cfg.apply_timeout_s,
            )
            if res.exit_code != 0:
                raise _infra(f"{case.id}: cannot reset {repo} to {base}: {res.output.strip()}")
        else:
            host, base = await self.cache.get(case)
            await sandbox.upload(host, repo)
        if cfg.setup and not cfg.image_repo:
            commands = [*case.spec.pre_install, *case.spec.install]
            if commands:
                res = await sandbox.exec(
                    " && ".join(commands), cwd=repo, timeout=cfg.setup_timeout_s
                )
                if res.exit_code != 0:
                    raise _infra(
                        f"{case.id}: set-up failed (exit {res.exit_code}): {tail(res.output, 2000)}"
                    )
        return Checkout(sandbox, repo, base, case)

    async def evaluate(self, item: Task | SWEInstance | SWECase, patch: str | None) -> Verdict:
        """Judge ``patch`` in a fresh sandbox; ``correct`` iff the instance is resolved."""
        case = item if isinstance(item, SWECase) else swe_case(item)
        patch = patch or ""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        async with self.provider.sandbox() as sb:
            timings["sandbox_s"] = time.perf_counter() - t0
            co = await self.checkout(sb, case)
            timings["checkout_s"] = time.perf_counter() - t0 - timings["sandbox_s"]
            verdict = await self._judge(co, patch, timings)
        timings["total_s"] = time.perf_counter() - t0
        verdict.details["timings"] = {k: round(v, 3) for k, v in timings.items()}
        self._write_logs(case, patch, verdict)
        return verdict

    async def _judge(self, co: Checkout, patch: str, timings: dict[str, float]) -> Verdict:
        cfg, case, sb = self.config, co.case, co.sandbox
        t = time.perf_counter()
        argv = [
            "/bin/sh", "-c", APPLY_SCRIPT, "sh", co.repo, f"{sb.scratch_dir}/thinktank-swe",
            co.base_commit, str(cfg.fuzz), *touched_files(case.instance.test_patch),
        ]  # fmt: skip
        archive = patches_tar(patch, case.instance.test_patch)
        applied = await sb.exec(argv, stdin=archive, timeout=cfg.apply_timeout_s)
        timings["apply_s"] = time.perf_counter() - t
        apply = parse_apply_log(applied.output)
        details: dict[str, Any] = {
            "instance_id": case.id,
            "patch_bytes": len(patch.encode()),
            "empty_patch": not patch.strip(),
            "apply_method": apply.method,
            "logs": {"apply": tail(applied.output, cfg.log_chars)},
        }
        if not apply.applied:
            reason = "patch does not apply: " + apply.error
            return Verdict.of(False, answer=patch, reason=reason, details=details)
        if not apply.test_patch_applied:
            reason = "the test patch does not apply (after the patch): " + apply.error
            return Verdict.of(False, answer=patch, reason=reason, details=details)
        t = time.perf_counter()
        f2p, p2p = case.instance.FAIL_TO_PASS, case.instance.PASS_TO_PASS
        tests = [*f2p, *p2p] if case.spec.source == "bundled" else None
        res = await sb.exec(
            PYTHON_SHIM + case.spec.test_command(tests),
            cwd=co.repo,
            env=case.spec.env,
            timeout=cfg.test_timeout_s,
        )
        timings["tests_s"] = time.perf_counter() - t
        statuses = parse_test_log(res.output, case)
        got_f2p = {i: statuses.get(i, "MISSING") for i in f2p}
        got_p2p = {i: statuses.get(i, "MISSING") for i in p2p}
        passed = sum(s in PASSING for s in [*got_f2p.values(), *got_p2p.values()])
        total = len(got_f2p) + len(got_p2p)
        resolved = total > 0 and passed == total and not res.timed_out
        details.update(
            FAIL_TO_PASS=got_f2p,
            PASS_TO_PASS=got_p2p,
            test_exit_code=res.exit_code,
            test_timed_out=res.timed_out,
        )
        details["logs"]["tests"] = tail(res.output, cfg.log_chars)
        if resolved:
            reason = f"resolved: {len(f2p)} FAIL_TO_PASS and {len(p2p)} PASS_TO_PASS tests pass"
        elif res.timed_out:
            reason = f"tests timed out after {cfg.test_timeout_s:g} s"
        else:
            bad = [i for i, s in {**got_f2p, **got_p2p}.items() if s not in PASSING]
            shown = ", ".join(f"{i} ({got_f2p.get(i) or got_p2p.get(i)})" for i in bad[:3])
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            prefix = "empty patch; " if not patch.strip() else ""
            reason = f"{prefix}not resolved: {len(bad)} of {total} tests fail: {shown}{more}"
        details["resolved"] = resolved
        return Verdict.of(
            resolved,
            score=passed / total if total else 0.0,
            answer=patch,
            reason=reason,
            details=details,
        )

    def _write_logs(self, case: SWECase, patch: str, verdict: Verdict) -> None:
        if not self.config.log_dir:
            return
        base = Path(self.config.log_dir) / case.id.replace("/", "_")
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
        for name, text in (verdict.details.get("logs") or {}).items():
            (folder / f"{name}.log").write_text(text, encoding="utf-8")
        report = verdict.model_dump(exclude={"answer"})
        report["details"] = {k: v for k, v in report["details"].items() if k != "logs"}
        (folder / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")

    async def aclose(self) -> None:
        """Delete the host copies of the repositories."""
        self.cache.close()


class GoldResult(BaseModel):
    """One instance checked with its gold patch and with an empty patch."""

    instance_id: str
    gold_resolved: bool
    """Must be true: the gold patch resolves the instance."""
    empty_resolved: bool | None
    """Must be false: without a fix the FAIL_TO_PASS tests fail (``None``: not checked)."""
    ok: bool
    gold_reason: str
    empty_reason: str = ""
    notes: list[str] = Field(default_factory=list)
    """Oddities that do not fail the check (e.g. PASS_TO_PASS failing without a fix)."""
    seconds: float = 0.0
    error: str | None = None
    """An infrastructure error that stopped the check."""


class GoldReport(BaseModel):
    """The result of :func:`validate_gold`."""

    ok: bool
    results: list[GoldResult]
    seconds: float

    @property
    def failures(self) -> list[GoldResult]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> str:
        """One line: how many instances passed the check."""
        good = len(self.results) - len(self.failures)
        return f"{good}/{len(self.results)} instances validated in {self.seconds:.1f} s"


async def validate_gold(
    instances: Sequence[Task | SWEInstance | str],
    provider: SandboxProvider,
    *,
    config: SWEHarnessConfig | dict[str, Any] | None = None,
    concurrency: int = 2,
    empty: bool = True,
) -> GoldReport:
    """Validate the harness: each instance resolves with its gold patch and, with
    ``empty``, does not with an empty patch. Instances are checked ``concurrency`` at
    a time; an infrastructure error marks that instance failed and the rest go on."""
    harness = SWEHarness(provider, config)
    gate = asyncio.Semaphore(max(1, concurrency))
    t0 = time.perf_counter()

    async def judged(case: SWECase, patch: str) -> Verdict:
        async with gate:
            return await harness.evaluate(case, patch)

    async def one(item: Task | SWEInstance | str) -> GoldResult:
        case = swe_case(item)
        start = time.perf_counter()
        try:
            jobs = [judged(case, case.instance.patch)] + ([judged(case, "")] if empty else [])
            verdicts = await asyncio.gather(*jobs)
        except Exception as exc:
            return GoldResult(
                instance_id=case.id, gold_resolved=False, empty_resolved=None, ok=False,
                gold_reason="", error=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - start,
            )  # fmt: skip
        gold = verdicts[0]
        nothing = verdicts[1] if empty else None
        notes = []
        if nothing is not None:
            broken = [
                i for i, s in nothing.details.get("PASS_TO_PASS", {}).items() if s not in PASSING
            ]
            if broken:
                notes.append(f"PASS_TO_PASS failing without a fix: {', '.join(broken)}")
        return GoldResult(
            instance_id=case.id,
            gold_resolved=gold.correct,
            empty_resolved=None if nothing is None else nothing.correct,
            ok=gold.correct and (nothing is None or not nothing.correct),
            gold_reason=gold.reason,
            empty_reason="" if nothing is None else nothing.reason,
            notes=notes,
            # time spent judging (not waiting for a turn under the concurrency limit)
            seconds=sum(float(v.details.get("timings", {}).get("total_s", 0.0)) for v in verdicts),
        )

    try:
        results = list(await asyncio.gather(*(one(i) for i in instances)))
    finally:
        await harness.aclose()
    return GoldReport(
        ok=bool(results) and all(r.ok for r in results),
        results=results,
        seconds=time.perf_counter() - t0,
    )


def _infra(message: str) -> Exception:
    from thinktank.errors import InfrastructureError

    return InfrastructureError(message)


__all__ = [
    "PASSING",
    "Checkout",
    "GoldReport",
    "GoldResult",
    "SWECase",
    "SWEHarness",
    "SWEHarnessConfig",
    "looks_like_patch",
    "swe_case",
    "validate_gold",
]
