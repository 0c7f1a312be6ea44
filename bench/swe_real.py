"""Real SWE-bench instances, end to end: environments built here, verdicts like the official harness.

``python bench/swe_real.py --instances FILE --repos DIR [--swe-env build] [-i ID ...]``

FILE holds SWE-bench instances (JSON/JSONL/Parquet, the official schema, e.g. rows of
the SWE-bench datasets), DIR local clones of their repositories (``<owner>__<name>``).
Per instance the gold patch must resolve and the empty patch must not; every listed
test's status is compared with what the dataset says (FAIL_TO_PASS pass with the gold
patch and fail without, PASS_TO_PASS pass with it). Environment images are timed cold
(``--rebuild`` removes them first; without it only images missing here are built, and
``cold_*`` is null when none was) and cached (a second harness asks again).

``ok``: every instance validated, the slowest cold build ≤ 180 s, the median cached
lookup ≤ 5 s. Without ``--instances`` (``make bench``: nothing real is bundled) the line
says so and ``ok`` is false.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any

from _common import emit, parser

from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.logs import PASSING
from thinktank.evals.swe.repo import swe_case
from thinktank.evals.tasks.suites import load_suite
from thinktank.sandboxes import DockerSandboxConfig


def _args() -> Any:
    p = parser(__doc__ or "")
    p.add_argument("--instances", default=os.environ.get("THINKTANK_SWE_REAL_INSTANCES"))
    p.add_argument("--repos", default=os.environ.get("THINKTANK_SWE_REPOS"))
    p.add_argument("--swe-env", default="build", choices=["build", "clone", "official"])
    p.add_argument("-i", "--instance", action="append", default=None)
    p.add_argument("-c", "--concurrency", type=int, default=2)
    p.add_argument("--rebuild", action="store_true", help="remove the environment images first")
    p.add_argument("--log-dir", default=None)
    return p.parse_args()


def _count(statuses: dict[str, str], passing: bool) -> int:
    return sum((s in PASSING or (passing and s == "SKIPPED")) == passing for s in statuses.values())


async def main() -> None:
    args = _args()
    if not args.instances:
        emit("swe_real", metric="instances validated (gold resolves, empty fails)", value=0,
             unit="instances", baseline=None, ratio=None, target=8, ok=False,
             skipped="no --instances FILE of real SWE-bench instances (none are bundled)")  # fmt: skip
        return
    tasks = [t for t in load_suite(args.instances) if t.kind == "swe"]
    if args.instance:
        tasks = [t for t in tasks if t.id in set(args.instance)]
    if args.quick:
        tasks = tasks[:2]
    config = {"env": args.swe_env, "repos": args.repos, "log_dir": args.log_dir}
    provider = DockerSandboxConfig().build()
    harness = SWEHarness(provider, config)
    cases = [swe_case(t) for t in tasks]
    if args.rebuild and args.swe_env == "build":
        import docker

        client = docker.from_env()
        for img in client.images.list(name="thinktank/swe-env"):
            client.images.remove(img.id, force=True)
    # environments: cold (built now) and cached (asked again by a new harness)
    cold: dict[str, float] = {}  # images built in this run (a cold build each)
    first: dict[str, float] = {}  # every image's first lookup in this run
    for case in cases:
        t0 = time.perf_counter()
        p = await harness.prepare(case)
        if p.image and p.image not in first:
            first[p.image] = time.perf_counter() - t0
            if p.built:
                cold[p.image] = first[p.image]
    again = SWEHarness(provider, config)
    cached = []
    for case in cases:
        t0 = time.perf_counter()
        await again.prepare(case)
        cached.append(time.perf_counter() - t0)
    await again.aclose()

    gate = asyncio.Semaphore(args.concurrency)

    async def judged(case: Any, patch: str) -> Any:
        async with gate:
            return await harness.evaluate(case, patch)

    rows: dict[str, Any] = {}
    durations: list[float] = []

    async def one(case: Any) -> None:
        try:
            gold, empty = await asyncio.gather(judged(case, case.instance.patch), judged(case, ""))
        except Exception as exc:
            rows[case.id] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            return
        durations.extend(v.details["timings"]["total_s"] for v in (gold, empty))
        g, e = gold.details, empty.details
        rows[case.id] = {
            "gold_resolved": gold.correct,
            "empty_failed": not empty.correct,
            "gold_FAIL_TO_PASS_pass": f"{_count(g.get('FAIL_TO_PASS', {}), True)}/{len(case.instance.FAIL_TO_PASS)}",
            "gold_PASS_TO_PASS_pass": f"{_count(g.get('PASS_TO_PASS', {}), True)}/{len(case.instance.PASS_TO_PASS)}",
            "empty_FAIL_TO_PASS_fail": f"{_count(e.get('FAIL_TO_PASS', {}), False)}/{len(case.instance.FAIL_TO_PASS)}",
            "empty_PASS_TO_PASS_pass": f"{_count(e.get('PASS_TO_PASS', {}), True)}/{len(case.instance.PASS_TO_PASS)}",
            "python": gold.details["environment"]["python"],
            "warnings": gold.details["environment"]["warnings"],
            **({} if gold.correct else {"gold_reason": gold.reason[:300]}),
        }

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(one(c) for c in cases))
    finally:
        await harness.aclose()
        await provider.aclose()
    wall = time.perf_counter() - t0
    validated = sum(1 for r in rows.values() if r.get("gold_resolved") and r.get("empty_failed"))
    repos = sorted({c.instance.repo for c in cases})
    cold_max = max(cold.values(), default=0.0)
    cached_p50 = statistics.median(cached) if cached else 0.0
    emit(
        "swe_real",
        metric="instances validated (gold resolves, empty fails, statuses as the dataset says)",
        value=validated,
        unit="instances",
        baseline=len(cases),
        ratio=validated / len(cases) if cases else None,
        target=len(cases),
        ok=bool(cases) and validated == len(cases) and cold_max <= 180 and cached_p50 <= 5,
        instances=len(cases),
        repositories=repos,
        swe_env=args.swe_env,
        gold_resolved=sum(1 for r in rows.values() if r.get("gold_resolved")),
        empty_failed=sum(1 for r in rows.values() if r.get("empty_failed")),
        errors=sum(1 for r in rows.values() if r.get("error")),
        env_build_s={
            "environments": len(first),
            "built_now": len(cold),
            "cold_p50": round(statistics.median(cold.values()), 1) if cold else None,
            "cold_max": round(cold_max, 1) if cold else None,
            "cached_p50": round(cached_p50, 3),
        },
        eval_s_p50=round(statistics.median(durations), 1) if durations else None,
        wall_s=round(wall, 1),
        statuses=rows,
    )


if __name__ == "__main__":
    asyncio.run(main())
