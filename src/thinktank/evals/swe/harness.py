"""The SWE harness: repositories in sandboxes, and patches judged by tests in fresh ones.

Two jobs, one class (:class:`SWEHarness`):

* :meth:`~SWEHarness.checkout` puts an instance's repository at its base commit into
  a sandbox the agents work in (the SWE tools and ``bash`` run there), in the
  instance's environment (:mod:`thinktank.evals.swe.envs`: ``official`` SWE-bench
  images, ``build`` images made here offline, or ``clone`` uploads);
* :meth:`~SWEHarness.evaluate` judges a patch in a **fresh** sandbox the way the
  official harness does: the patch applied (``git apply``, falling back to
  ``patch --fuzz``), then the evaluation script (:mod:`thinktank.evals.swe.scripts`:
  re-install, test files reset and the test patch applied, the spec's test command),
  its output parsed by the instance's ``swebench`` log parser and graded by the
  official rules (:mod:`thinktank.evals.swe.logs`). A patch that does not apply is a
  verdict (not resolved, with the reason), never an exception. The verdict keeps the
  logs' tails; with ``log_dir`` the full logs, the script and the report are written
  per instance.

:func:`validate_gold` checks the harness itself (``thinktank swe gold``): every
instance must resolve with its gold patch and must not with an empty patch.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thinktank.evals.swe.envs import (
    OFFICIAL_IMAGE,
    Prepared,
    RepoData,
    SWEEnvMode,
    layout_for,
    official_image,
    resolve_mode,
)
from thinktank.evals.swe.loader import SWEInstance
from thinktank.evals.swe.logs import PASSING, grade, read_test_log
from thinktank.evals.swe.patches import looks_like_patch, parse_apply_log, tail
from thinktank.evals.swe.repo import RepoCache, SWECase, swe_case
from thinktank.evals.swe.scripts import MODEL_APPLY_SCRIPT, TEST_PATCH_FAILED, eval_script
from thinktank.evals.swe.specs import spec_summary
from thinktank.evals.tasks.evaluators.base import Verdict
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.provider import SandboxProvider

TEST_OUTPUT_CAP = 64 * 1024 * 1024
"""The test run's output is kept up to this size (full logs go to ``log_dir``)."""
_MISSING_DIST = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement)\s+([^\s(]+)"
)


class SWEHarnessConfig(BaseModel):
    """How the harness prepares repositories and runs tests."""

    model_config = ConfigDict(extra="forbid")

    env: SWEEnvMode = Field(
        default_factory=lambda: os.environ.get("THINKTANK_SWE_ENV", "auto")  # type: ignore[arg-type]
    )
    """Environment mode (``auto``, ``official``, ``build``, ``clone``; default
    ``$THINKTANK_SWE_ENV`` or ``auto``: ``build`` for instances with a ``swebench``
    specification, ``clone`` for the rest). See :mod:`thinktank.evals.swe.envs`."""
    repo_dir: str = "repo"
    """``clone`` mode: sandbox path of the repository (relative: under the work dir)."""
    repos: str | None = Field(default_factory=lambda: os.environ.get("THINKTANK_SWE_REPOS"))
    """Host folder of local clones for public instances (``<owner>__<name>``); default
    ``$THINKTANK_SWE_REPOS``. ``official`` mode needs none."""
    official_image: str = OFFICIAL_IMAGE
    """``official`` mode: the image name template (``{id}``, ``{arch}``), e.g.
    ``registry.local:5000/swebench/sweb.eval.{arch}.{id}:latest`` for a mirror."""
    data: list[RepoData] = Field(default_factory=list)
    """Host folders a repository's tests read at run time, mounted read-only."""
    python_download: bool = True
    """``build`` mode: let ``uv`` download a Python the machine lacks (when it can)."""
    build_cache: str | None = None
    """``build`` mode: where wheelhouses and build logs go (default ``~/.cache/thinktank/swe``)."""
    setup: bool = True
    """Run the spec's pre-install and install commands after checkout."""
    setup_timeout_s: float = Field(default=1800.0, gt=0)
    """Limit for the set-up commands."""
    apply_timeout_s: float = Field(default=120.0, gt=0)
    """Limit for applying the patches."""
    test_timeout_s: float = Field(default=1800.0, gt=0)
    """Limit for the evaluation script; a timeout fails the instance."""
    fuzz: int = Field(default=3, ge=0)
    """``patch --fuzz`` used when ``git apply`` refuses the patch."""
    log_chars: int = Field(default=20_000, ge=1000)
    """How much of each log the verdict keeps (the tail); ``log_dir`` gets all of it."""
    log_dir: str | None = None
    """When set, ``<log_dir>/<instance_id>/`` gets the patch, the script, the full logs
    and the report."""


@dataclass
class Checkout:
    """A repository placed in a sandbox."""

    sandbox: Sandbox
    repo: str
    """Absolute sandbox path of the repository root."""
    base_commit: str
    """The commit patches are diffs against (the snapshot's for uploaded repositories)."""
    case: SWECase
    prepared: Prepared | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def prelude(self) -> str:
        """Shell lines that activate the environment (prefix for commands run here)."""
        if self.prepared is None:
            return ""
        return "".join(line + "\n" for line in self.prepared.layout.activate)


class SWEHarness:
    """Checks out SWE instances in sandboxes and judges patches.

    ``provider`` serves ``clone`` sandboxes; ``build`` and ``official`` sandboxes are
    Docker containers of the instance's image with ``provider``'s limits.
    """

    def __init__(
        self,
        provider: SandboxProvider,
        config: SWEHarnessConfig | dict[str, Any] | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.provider = provider
        self.config = (
            config if isinstance(config, SWEHarnessConfig) else SWEHarnessConfig(**(config or {}))
        )
        self.cache = RepoCache(self.config.repos)
        self.progress = progress or (lambda _m: None)
        self._providers: dict[str, SandboxProvider] = {}
        self._prepared: dict[str, Prepared] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._builder: Any = None

    # -- environments --------------------------------------------------------------------

    def mode(self, case: SWECase) -> str:
        """The environment mode of ``case`` (``auto`` resolved)."""
        return resolve_mode(self.config.env, case.spec.source in ("swebench", "instance"))

    async def prepare(self, item: Task | SWEInstance | SWECase) -> Prepared:
        """Make the instance's environment ready (build its image, check the official one)."""
        case = swe_case(item)
        if case.id in self._prepared:
            return self._prepared[case.id]
        lock = self._locks.setdefault(case.id, asyncio.Lock())
        async with lock:
            if case.id not in self._prepared:
                self._prepared[case.id] = await self._prepare(case)
        return self._prepared[case.id]

    async def _prepare(self, case: SWECase) -> Prepared:
        mode = self.mode(case)
        layout = layout_for(mode, self.config.repo_dir)
        if mode == "clone":
            return Prepared("clone", layout, warnings=_spec_warnings(case))
        if mode == "official":
            image = self._official_name(case)
            await asyncio.to_thread(self._check_image, case, image)
            return Prepared("official", layout, image=image, warnings=_spec_warnings(case))
        if case.spec.source == "fallback":
            raise _config(
                f"{case.id}: `build` environments follow the swebench specification of "
                f"{case.instance.repo} {case.instance.version}, and there is none: "
                f"{case.spec.note}. Use --swe-env official (a SWE-bench image) or clone"
            )
        source = await asyncio.to_thread(self.cache.find_clone, case.instance.repo)
        builder = self._env_builder()
        env = await asyncio.to_thread(builder.ensure, case.spec, case.instance, source)
        return Prepared(
            "build",
            layout,
            image=env.tag,
            python=env.python,
            warnings=[*_spec_warnings(case), *env.warnings],
            built=env.built,
            seconds=env.seconds,
        )

    def _env_builder(self) -> Any:
        if self._builder is None:
            from thinktank.evals.swe.build import EnvBuilder

            base = self._docker_base()
            self._builder = EnvBuilder(
                base_image=base.image,
                docker_host=base.docker_host,
                cache_dir=self.config.build_cache,
                allow_python_download=self.config.python_download,
                progress=self.progress,
            )
        return self._builder

    def _official_name(self, case: SWECase) -> str:
        if self.config.official_image == OFFICIAL_IMAGE and case.spec.image:
            return case.spec.image
        return official_image(case.id, self.config.official_image)

    def _check_image(self, case: SWECase, image: str) -> None:
        from thinktank.sandboxes import docker_client, image_exists

        if not image_exists(docker_client(self._docker_base().docker_host), image):
            raise _infra(
                f"{case.id}: the official image {image} is not on this machine; pull it "
                f"(`docker pull {image}`), build it with swebench's image builder, or name a "
                "mirror with --swe-image / official_image"
            )

    def _docker_base(self) -> Any:
        from thinktank.sandboxes.config import DockerSandboxConfig

        config = getattr(self.provider, "config", None)
        if isinstance(config, DockerSandboxConfig):
            return config
        inner = getattr(self.provider, "inner", None) or getattr(self.provider, "provider", None)
        config = getattr(inner, "config", None)
        if isinstance(config, DockerSandboxConfig):
            return config
        if config is not None or self.provider.__class__.__name__ != "DockerProvider":
            raise _config(
                "`build` and `official` SWE environments run Docker sandboxes; the given "
                f"sandbox provider is {type(self.provider).__name__} (use --swe-env clone)"
            )
        return DockerSandboxConfig()

    def _mounts(self, case: SWECase) -> list[Any]:
        from thinktank.sandboxes.config import HostMount

        return [
            HostMount(source=d.source, target=d.target, read_only=True)
            for d in self.config.data
            if d.repo in (case.instance.repo, "*")
        ]

    def provider_for(self, prepared: Prepared, case: SWECase) -> SandboxProvider:
        """The provider of ``case``'s sandboxes."""
        mounts = self._mounts(case)
        if prepared.image is None and not mounts:
            return self.provider
        key = f"{prepared.image}|{case.instance.repo if mounts else ''}"
        if key not in self._providers:
            base = self._docker_base()
            update: dict[str, Any] = {"mounts": [*base.mounts, *mounts]}
            if prepared.image is not None:
                update.update(image=prepared.image, read_only_root=False)
                update["user"] = "0:0" if prepared.mode == "official" else "1000:1000"
            self._providers[key] = base.model_copy(update=update).build()
        return self._providers[key]

    async def create_sandbox(self, item: Task | SWEInstance | SWECase) -> Sandbox:
        """A new sandbox of the instance's environment (not yet checked out)."""
        case = swe_case(item)
        prepared = await self.prepare(case)
        return await self.provider_for(prepared, case).create()

    # -- checkout ------------------------------------------------------------------------

    async def checkout(self, sandbox: Sandbox, item: Task | SWEInstance | SWECase) -> Checkout:
        """Put the instance's repository at its base commit into ``sandbox`` (and set it up)."""
        case = swe_case(item)
        prepared = await self.prepare(case)
        cfg = self.config
        layout = prepared.layout
        if prepared.mode == "official":
            base = case.instance.base_commit
            res = await sandbox.exec(
                # no `git clean`: environment images keep build products (egg-info) there
                f"git reset -q --hard {shlex.quote(base)}",
                cwd=layout.repo,
                timeout=cfg.apply_timeout_s,
            )
            if res.exit_code != 0:
                raise _infra(
                    f"{case.id}: cannot reset {layout.repo} to {base} in {prepared.image}: "
                    f"{res.output.strip()}"
                )
            return Checkout(sandbox, layout.repo, base, case, prepared)
        repo = layout.repo if prepared.mode == "build" else sandbox.path(cfg.repo_dir)
        host, base = await self.cache.get(case)
        await sandbox.upload(host, repo)
        co = Checkout(sandbox, repo, base, case, prepared)
        if cfg.setup:
            await self._setup(co)
        return co

    async def _setup(self, co: Checkout) -> None:
        case, sb = co.case, co.sandbox
        commands = [*case.spec.pre_install, *case.spec.install]
        if not commands:
            return
        script = co.prelude + "set -e\n" + "\n".join(commands)
        res = await sb.exec(
            ["bash", "-c", script], cwd=co.repo, timeout=self.config.setup_timeout_s
        )
        if res.exit_code != 0 and co.prepared is not None and co.prepared.mode == "build":
            missing = _MISSING_DIST.findall(res.output)
            if missing:
                extra = await self._top_up(co, missing)
                co.notes.append(f"fetched {', '.join(missing)} for this commit")
                res = await sb.exec(
                    ["bash", "-c", f'export PIP_FIND_LINKS="$PIP_FIND_LINKS {extra}"\n{script}'],
                    cwd=co.repo,
                    timeout=self.config.setup_timeout_s,
                )
        if res.exit_code != 0:
            raise _infra(
                f"{case.id}: set-up failed in the {co.prepared.mode if co.prepared else ''} "
                f"environment (exit {res.exit_code}; {spec_summary(case.spec)}): "
                f"{tail(res.output, 2000)}"
            )

    async def _top_up(self, co: Checkout, missing: list[str]) -> str:
        """Fetch the base commit's own dependencies on the host; upload them; their folder."""
        from thinktank.evals.swe.build import find_python

        host, _ = await self.cache.get(co.case)
        py = co.prepared.python if co.prepared else None
        found = await asyncio.to_thread(
            find_python, ".".join((py or "").split(".")[:2]), allow_download=False
        )
        exe = found.executable if found else sys.executable
        folder = Path(tempfile.mkdtemp(prefix="thinktank-topup-"))
        from thinktank.evals.swe.build import install_extras

        proc = await asyncio.create_subprocess_exec(
            exe, "-m", "pip", "wheel", "--use-pep517", "-q", "-w", str(folder),
            f"{host}{install_extras(co.case.spec)}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise _infra(
                f"{co.case.id}: the environment lacks {', '.join(missing)} and fetching it "
                f"failed: {tail(out.decode(errors='replace'), 1500)}"
            )
        dest = f"{co.sandbox.scratch_dir}/topup"
        await co.sandbox.upload(folder, dest)
        return dest

    # -- judging -------------------------------------------------------------------------

    async def evaluate(self, item: Task | SWEInstance | SWECase, patch: str | None) -> Verdict:
        """Judge ``patch`` in a fresh sandbox; ``correct`` iff the instance is resolved."""
        case = swe_case(item)
        if not case.instance.FAIL_TO_PASS:
            raise _config(
                f"{case.id} lists no FAIL_TO_PASS tests, so no patch can be judged against it; "
                "give the instance's FAIL_TO_PASS and PASS_TO_PASS (is the suite file complete?)"
            )
        patch = patch or ""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        prepared = await self.prepare(case)
        timings["env_s"] = time.perf_counter() - t0
        async with self.provider_for(prepared, case).sandbox() as sb:
            timings["sandbox_s"] = time.perf_counter() - t0 - timings["env_s"]
            t = time.perf_counter()
            co = await self.checkout(sb, case)
            timings["checkout_s"] = time.perf_counter() - t
            verdict, logs = await self._judge(co, patch, timings)
        timings["total_s"] = time.perf_counter() - t0
        verdict.details["timings"] = {k: round(v, 3) for k, v in timings.items()}
        verdict.details["environment"] = {
            "mode": prepared.mode,
            "image": prepared.image,
            "python": prepared.python,
            "spec": spec_summary(case.spec),
            "warnings": prepared.warnings,
            "notes": co.notes,
        }
        self._write_logs(case, patch, verdict, logs)
        return verdict

    async def _judge(
        self, co: Checkout, patch: str, timings: dict[str, float]
    ) -> tuple[Verdict, dict[str, str]]:
        cfg, case, sb = self.config, co.case, co.sandbox
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
            reason = (
                f"{prefix}not resolved: {len(g.failing)} of {g.total} tests fail: {shown}{more}"
            )
        verdict = Verdict.of(
            resolved,
            score=g.passed / g.total if g.total else 0.0,
            answer=patch,
            reason=reason,
            details=details,
        )
        return verdict, logs

    def _write_logs(
        self, case: SWECase, patch: str, verdict: Verdict, logs: dict[str, str]
    ) -> None:
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
        for name, text in logs.items():
            target = folder / (name if "." in name else f"{name}.log")
            target.write_text(text, encoding="utf-8")
        report = verdict.model_dump(exclude={"answer"})
        report["details"] = {k: v for k, v in report["details"].items() if k != "logs"}
        (folder / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")

    async def aclose(self) -> None:
        """Delete the host copies of the repositories; close the per-image providers."""
        self.cache.close()
        providers, self._providers = list(self._providers.values()), {}
        for p in providers:
            await p.aclose()


def _spec_warnings(case: SWECase) -> list[str]:
    return [case.spec.note] if case.spec.source == "fallback" and case.spec.note else []


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
    progress: Callable[[str], None] | None = None,
) -> GoldReport:
    """Validate the harness: each instance resolves with its gold patch and, with
    ``empty``, does not with an empty patch. Instances are checked ``concurrency`` at
    a time; an infrastructure error marks that instance failed and the rest go on."""
    harness = SWEHarness(provider, config, progress=progress)
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


def _config(message: str) -> Exception:
    from thinktank.errors import ConfigError

    return ConfigError(message)


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
