"""Checking the harness itself (``thinktank swe gold``): every instance must resolve
with its gold patch and must not with an empty patch (:func:`validate_gold`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from thinktank.evals.swe.config import SWEHarnessConfig
from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.loader import SWEInstance
from thinktank.evals.swe.logs import PASSING
from thinktank.evals.swe.repo import SWECase, swe_case
from thinktank.evals.tasks.evaluators.base import Verdict
from thinktank.evals.tasks.task import Task
from thinktank.sandboxes.provider import SandboxProvider


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
