"""Running one request's graph: admission (concurrency and queue), the run, and what
its :class:`RunResult` becomes on the wire.

**Outcome → status.** A run with an answer is a 200 whatever its status (a run cut by
its budget, degraded, or stopped by its CEO still answered); the status is in the
``thinktank`` extension of the reply. A run without an answer is an error object: 402
``insufficient_quota`` / ``budget_exceeded`` when a budget stopped it (not 429: the
same request would be refused again, and OpenAI clients retry 429s), else 502
``server_error`` / ``graph_failed`` with the run's error (its models failed). Either
way the run is stored and the message names where to read its trace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from thinktank.errors import BudgetExceeded, UsageError
from thinktank.graphs.result import RunResult
from thinktank.graphs.state import RunStatus
from thinktank.serve.registry import ServedGraph
from thinktank.serve.request import RunPlan
from thinktank.serve.store import StoredRun, TraceStore
from thinktank.serve.wire import ServeError, usage

RUNS_PATH = "/v1/thinktank/runs/"


class Gate:
    """At most ``limit`` runs at once; at most ``queue`` requests waiting for a slot."""

    def __init__(self, limit: int, queue: int) -> None:
        self.limit, self.queue = limit, queue
        self.running = 0
        self.waiting = 0
        self._sem = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._sem.locked() and self.waiting >= self.queue:
            raise ServeError(
                429,
                f"the server is at capacity ({self.limit} graphs running, {self.waiting} "
                "requests waiting); retry later",
                type="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._sem.release()


async def execute(
    served: ServedGraph, plan: RunPlan, rid: str, created: int, gate: Gate, store: TraceStore
) -> RunResult:
    """Run ``plan`` on ``served`` within the gate and store the result under ``rid``."""
    # the task id derives from the prompt (as a bare question's does), so a seed repeats a run
    task = {"prompt": plan.prompt, "kind": plan.kind, "metadata": {}}
    async with gate.slot():
        if plan.budget is not None:  # its clock (max_seconds) starts with the run, not the queue
            plan.budget.started = time.monotonic()
        try:
            res = await served.graph.run(task, seed=plan.seed, budget=plan.budget, run_id=rid)
        except BudgetExceeded as exc:  # the graph turns refusals into a status; be safe
            raise ServeError(
                402, str(exc), type="insufficient_quota", code="budget_exceeded"
            ) from exc
        except UsageError as exc:
            raise ServeError(400, str(exc), code="invalid_value") from exc
    await store.put(
        StoredRun(id=rid, created=created, model=served.name, seed=plan.seed, result=res)
    )
    return res


def outcome(res: RunResult, rid: str) -> ServeError | None:
    """``None`` when the run answered; else the error object it becomes."""
    if res.answer is not None:
        return None
    where = f"its trace: GET {RUNS_PATH}{rid}"
    if res.status == RunStatus.BUDGET_EXHAUSTED:
        return ServeError(
            402,
            f"the budget refused the run's model calls ({_limits(res)}), so it has no answer: "
            "raise X-Thinktank-Budget-Usd / X-Thinktank-Budget-Tokens (or metadata.budget_usd / "
            f"budget_tokens); {where}",
            type="insufficient_quota",
            code="budget_exceeded",
        )
    return ServeError(
        502,
        f"the graph ended {res.status.value} without an answer: {res.error or 'no answer'}; {where}",
        type="server_error",
        code="graph_failed",
    )


def _limits(res: RunResult) -> str:
    b = res.budget
    if b is None:
        return res.refused_by or "a budget"
    shown = [
        f"max ${b.max_usd:g}" if b.max_usd is not None else "",
        f"max {b.max_tokens} tokens" if b.max_tokens is not None else "",
    ]
    spent = f"spent ${b.spent_usd:.6f}, {b.spent_tokens} tokens"
    return "; ".join([*(x for x in shown if x), spent])


def extension(res: RunResult, rid: str, seed: int) -> dict[str, Any]:
    """The reply's ``thinktank`` field (OpenAI clients ignore it)."""
    return {
        "status": res.status.value,
        "cost_usd": res.cost,
        "samples": res.samples,
        "samples_requested": res.samples_requested,
        "truncated": res.truncated,
        "latency_s": round(res.latency_s, 4),
        "seed": seed,
        "run": RUNS_PATH + rid,
    }


def reply_usage(res: RunResult) -> dict[str, int]:
    """Every token the run spent, as OpenAI ``usage``."""
    return usage(res.usage.totals)
