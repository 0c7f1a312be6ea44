"""The ``swe`` environment: agents fix a repository in a sandbox; tests in a fresh one judge.

Per task, :meth:`SWEEnvironment.open` starts a sandbox with the instance's
repository at its base commit (:meth:`SWEHarness.checkout`) and hands the graph the
SWE tools (``view``, ``grep``, ``str_replace``, ``insert``, ``create``,
``undo_edit``, ``submit``) and ``bash``, routed so each agent run works in its own
checkout (:mod:`thinktank.evals.swe.workspaces`). The prompt shows the issue and says how to submit.

:meth:`SWEEnvironment.evaluate` takes the patch from the winning candidate (a
``submit`` call's diff, or a diff written in the reply); when no candidate holds a
diff and only one checkout was used, that checkout's changes are judged (an
automatic submit, as when an agent runs out of steps after editing) and
``details['patch_source']`` says so. The patch is judged by
:meth:`SWEHarness.evaluate` in a fresh sandbox. With ``judge_candidates=True``
(``--swe-judge-candidates``) every distinct candidate patch is judged too (once per
patch hash), so pass@k and the selection gap exist for SWE runs.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from thinktank.evals.environments._sandbox import ProviderOption, resolve_provider
from thinktank.evals.environments.base import TaskContext, TaskEnvironment
from thinktank.evals.swe.config import Checkout, SWEHarnessConfig
from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.patches import extract_patch
from thinktank.evals.swe.repo import swe_case
from thinktank.evals.swe.workspaces import Workspaces
from thinktank.evals.tasks.evaluators import Verdict
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes.provider import SandboxProvider

SWE_PROMPT = """\
You are working in a Python repository checked out at {repo}. Resolve the issue below.

<issue>
{issue}
</issue>

Tools: `view` and `grep` read the code, `str_replace`, `insert` and `create` edit it (paths \
are relative to the repository root), `bash` runs shell commands in the repository (for \
example `python -m pytest -q`). Change the source code, not the tests. When the fix is done, \
call `submit` (no arguments): your changes become the patch that is judged by hidden tests."""
"""The task prompt of SWE instances (``{repo}``, ``{issue}``)."""


JUDGING_CONCURRENCY = 4
"""Candidate patches of one task judged at once (each in a fresh sandbox)."""


def _digest(patch: str) -> str:
    return hashlib.sha256(patch.encode()).hexdigest()


class SWEEnvironment(TaskEnvironment):
    """SWE tasks: a sandbox with the repository per task, judged by the SWE harness.

    Args:
        provider: where sandboxes come from (a provider, a sandbox config, or ``None``
            for Docker with its secure defaults). Public SWE-bench images need
            ``read_only_root=False`` and usually a network for installs.
        harness: :class:`SWEHarnessConfig` fields (``repo_dir``, ``repos``, timeouts, …).
        repos: host folder of local clones for public instances (see :mod:`thinktank.evals.swe.repo`).
        log_dir: write each judged instance's patch, logs and report there.
        bash: give the agents ``bash`` besides the editing tools.
        bash_timeout_s: limit per ``bash`` command.
        isolate: one checkout per agent run (``False``: all runs share one).
        judge_candidates: also judge every distinct candidate patch of a run, not only
            the selected one, so pass@k and the selection gap exist for SWE (each
            distinct patch of a task is judged once: verdicts are cached by the patch's
            hash; a judged patch costs a fresh sandbox and the tests).
        judge: accepted for symmetry with the other environments; unused.
    """

    kinds = frozenset({"swe"})

    def __init__(
        self,
        *,
        provider: ProviderOption = None,
        harness: SWEHarnessConfig | dict[str, Any] | None = None,
        repos: str | Path | None = None,
        log_dir: str | Path | None = None,
        bash: bool = True,
        bash_timeout_s: float = 120.0,
        isolate: bool = True,
        judge_candidates: bool = False,
        judge: Any = None,
    ) -> None:
        cfg = (
            harness
            if isinstance(harness, SWEHarnessConfig)
            else SWEHarnessConfig(**(harness or {}))
        )
        updates: dict[str, Any] = {}
        if repos is not None:
            updates["repos"] = str(repos)
        if log_dir is not None:
            updates["log_dir"] = str(log_dir)
        self.config = cfg.model_copy(update=updates)
        self._option = provider
        self.provider: SandboxProvider | None = None
        self._owned = False
        self.harness: SWEHarness | None = None
        self.bash = bash
        self.bash_timeout_s = bash_timeout_s
        self.isolate = isolate
        self.judges_candidates = judge_candidates
        self._verdicts: dict[tuple[str, str], bool] = {}
        """(task id, patch hash) → resolved: each distinct patch is judged once."""

    async def start(self) -> None:
        if self.harness is None:
            self.provider, self._owned = resolve_provider(self._option)
            self.harness = SWEHarness(self.provider, self.config)

    async def close(self) -> None:
        if self.harness is not None:
            await self.harness.aclose()
            self.harness = None
        if self._owned and self.provider is not None:
            await self.provider.aclose()
        self.provider = None

    async def _harness(self) -> SWEHarness:
        if self.harness is None:
            await self.start()
        assert self.harness is not None
        return self.harness

    async def open(self, task: Task) -> TaskContext:
        harness = await self._harness()
        case = swe_case(task)

        async def checkout() -> Checkout:
            sb = await harness.create_sandbox(case)
            try:
                return await harness.checkout(sb, case)
            except BaseException:
                await sb.close()
                raise

        first = await checkout()
        spaces = Workspaces(
            first,
            checkout,
            bash=self.bash,
            bash_timeout_s=self.bash_timeout_s,
            isolate=self.isolate,
        )
        return TaskContext(
            tools=spaces.tools(),
            prompt=SWE_PROMPT.format(
                repo=first.repo, issue=case.instance.problem_statement.strip()
            ),
            data={
                "workspaces": spaces,
                "sandbox": first.sandbox,
                "repo": first.repo,
                "base_commit": first.base_commit,
            },
            closers=[first.sandbox.close, spaces.aclose],
        )

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        patch, source = await self.pick_patch(answer, ctx, output=output)
        verdict = await (await self._harness()).evaluate(task, patch)
        verdict.details["patch_source"] = source
        self._verdicts[(task.id, _digest(patch))] = bool(verdict.correct)
        return verdict

    async def judge_candidates(
        self, task: Task, result: Any, ctx: TaskContext
    ) -> list[bool] | None:
        """With ``judge_candidates``: each final candidate's patch judged (distinct
        patches once, the selected one's verdict reused), in candidate order."""
        candidates = list(getattr(result, "candidates", None) or [])
        if not self.judges_candidates or not candidates:
            return None
        outputs = {o.id: o.output for o in result.trace.outputs}
        patches = [
            (await self.pick_patch(c.answer, ctx, output=outputs.get(c.id)))[0] for c in candidates
        ]
        harness = await self._harness()
        gate = asyncio.Semaphore(JUDGING_CONCURRENCY)

        async def judge(patch: str) -> None:
            key = (task.id, _digest(patch))
            if key in self._verdicts:
                return
            async with gate:
                self._verdicts[key] = bool((await harness.evaluate(task, patch)).correct)

        await asyncio.gather(*(judge(p) for p in dict.fromkeys(patches)))
        return [self._verdicts[(task.id, _digest(p))] for p in patches]

    async def pick_patch(
        self, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> tuple[str, str]:
        """``(patch, source)``: ``submitted`` (a diff in the output or answer),
        ``workspace`` (the only checkout's changes) or ``none`` (an empty patch)."""
        texts: list[str | None] = [output if isinstance(output, str) else None]
        if isinstance(output, dict):  # a structured reply: the diff may be in any text field
            texts += [v for v in output.values() if isinstance(v, str)]
        for text in (*texts, answer):
            found = extract_patch(text)
            if found:
                return found, "submitted"
        spaces = ctx.data.get("workspaces")
        if isinstance(spaces, Workspaces) and len(spaces.used) == 1:
            changes = await spaces.used[0].diff()
            if changes.strip():
                return changes, "workspace"
        return "", "none"
