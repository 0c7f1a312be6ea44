"""The SWE harness: repositories in sandboxes, and patches judged by tests in fresh ones.

Two jobs, one class (:class:`SWEHarness`, configured by
:class:`~thinktank.evals.swe.config.SWEHarnessConfig`):

* :meth:`~SWEHarness.checkout` puts an instance's repository at its base commit into
  a sandbox the agents work in (the SWE tools and ``bash`` run there), in the
  instance's environment (:mod:`thinktank.evals.swe.envs`: ``official`` SWE-bench
  images, ``build`` images made here offline, or ``clone`` uploads);
* :meth:`~SWEHarness.evaluate` judges a patch in a **fresh** sandbox the way the
  official harness does (:mod:`thinktank.evals.swe.judge`): the patch applied, the
  evaluation script run, its output graded by the official rules. A patch that does
  not apply is a verdict (not resolved, with the reason), never an exception. With
  ``log_dir`` the full logs, the script and the report are written per instance.

:func:`thinktank.evals.swe.gold.validate_gold` checks the harness itself (``thinktank
swe gold``).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinktank.evals.swe.config import Checkout, SWEHarnessConfig
from thinktank.evals.swe.envs import (
    OFFICIAL_IMAGE,
    Prepared,
    layout_for,
    official_image,
    resolve_mode,
)
from thinktank.evals.swe.judge import judge_patch, write_logs
from thinktank.evals.swe.loader import SWEInstance
from thinktank.evals.swe.patches import tail
from thinktank.evals.swe.repo import RepoCache, SWECase, swe_case
from thinktank.evals.swe.specs import spec_summary
from thinktank.evals.tasks.evaluators.base import Verdict
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.provider import SandboxProvider

_MISSING_DIST = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement)\s+([^\s(]+)"
)


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
        self._topups: dict[str, Path] = {}
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
            missing = list(dict.fromkeys(_MISSING_DIST.findall(res.output)))
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
        """The base commit's own dependencies, fetched on the host once per instance (the
        gold and empty patches, or a run's candidate patches, judged at the same time wait
        for one fetch: two builds in the one host copy of the repository collided), then
        uploaded; their folder in the sandbox."""
        async with self._locks.setdefault(f"top-up {co.case.id}", asyncio.Lock()):
            folder = self._topups.get(co.case.id)
            if folder is None:
                folder = self._topups[co.case.id] = await self._fetch_top_up(co, missing)
        dest = f"{co.sandbox.scratch_dir}/topup"
        await co.sandbox.upload(folder, dest)
        return dest

    async def _fetch_top_up(self, co: Checkout, missing: list[str]) -> Path:
        from thinktank.evals.swe.build_python import find_python

        host, _ = await self.cache.get(co.case)
        py = co.prepared.python if co.prepared else None
        found = await asyncio.to_thread(
            find_python, ".".join((py or "").split(".")[:2]), allow_download=False
        )
        exe = found.executable if found else sys.executable
        folder = Path(tempfile.mkdtemp(prefix="thinktank-topup-"))
        from thinktank.evals.swe.build_wheels import install_extras

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
        return folder

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
            verdict, logs = await judge_patch(co, patch, self.config, timings)
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
        write_logs(self.config.log_dir, case, patch, verdict, logs)
        return verdict

    async def aclose(self) -> None:
        """Delete the host copies of the repositories and the fetched top-ups; close the
        per-image providers."""
        self.cache.close()
        topups, self._topups = list(self._topups.values()), {}
        for folder in topups:
            shutil.rmtree(folder, ignore_errors=True)
        providers, self._providers = list(self._providers.values()), {}
        for p in providers:
            await p.aclose()


def _spec_warnings(case: SWECase) -> list[str]:
    return [case.spec.note] if case.spec.source == "fallback" and case.spec.note else []


def _infra(message: str) -> Exception:
    from thinktank.errors import InfrastructureError

    return InfrastructureError(message)


def _config(message: str) -> Exception:
    from thinktank.errors import ConfigError

    return ConfigError(message)
