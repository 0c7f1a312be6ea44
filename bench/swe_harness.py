"""SWE evaluation overhead: one instance judged through thinktank vs raw docker SDK calls.

Per instance, thinktank's :meth:`SWEHarness.evaluate` with the gold patch: a fresh
hardened sandbox (read-only image, tmpfs work dir, no network, dropped
capabilities), the repository uploaded, patch + test patch applied, FAIL_TO_PASS and
PASS_TO_PASS run and parsed, the sandbox removed. Baseline in the same run, the same
steps as plain docker SDK calls with none of the hardening: ``containers.create`` +
``start``, one ``put_archive`` of the repository and the patch (tar built once per
instance), ``exec_run`` of the same apply script, ``exec_run`` of the same evaluation
script, the same parse and grading, ``remove(force=True)``. Runs alternate (thinktank, raw) per
instance to share the machine's noise; ``ratio`` = median thinktank / median raw,
target <= 1.3. Both must resolve every instance. Phase medians of both sides are in
the JSON line: the raw side writes the repository into the container's overlay layer
(``put_archive`` cannot reach a tmpfs), so its ``remove`` deletes files; thinktank's
work dir is a tmpfs, so removal is cheaper and part of why the ratio can be below 1.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import tarfile
import time
from pathlib import Path
from typing import Any

from _common import emit, parser

from thinktank.evals.swe.envs import layout_for
from thinktank.evals.swe.harness import SWEHarness
from thinktank.evals.swe.logs import grade, read_test_log
from thinktank.evals.swe.patches import parse_apply_log
from thinktank.evals.swe.repo import SWECase, swe_case
from thinktank.evals.swe.scripts import MODEL_APPLY_SCRIPT, eval_script
from thinktank.evals.swe.suite import instance_names
from thinktank.sandboxes import DockerSandboxConfig, docker_client
from thinktank.sandboxes.image import default_image


def repo_tar(folder: Path, case: SWECase) -> bytes:
    """The repository under ``repo/`` plus ``model.patch``, owned by uid 1000."""
    buf = io.BytesIO()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 1000
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder, arcname="repo", filter=owned)
        for name, text in (("model.patch", case.instance.patch),):
            data = text.encode()
            info = owned(tarfile.TarInfo(name))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def raw_evaluate(
    client: Any, image: str, case: SWECase, archive: bytes, base: str
) -> tuple[bool, dict[str, float]]:
    """The harness's steps as plain docker SDK calls; (resolved, seconds per phase)."""
    t = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases[name] = now - t
        t = now

    c = client.containers.create(image, ["sleep", "600"], network_mode="none", working_dir="/work")
    try:
        c.start()
        lap("sandbox_s")
        c.put_archive("/work", archive)
        lap("checkout_s")
        argv = ["/bin/sh", "-c", MODEL_APPLY_SCRIPT, "sh", "/work/repo", "/work/model.patch", "3"]
        _, out = c.exec_run(argv, user="1000:1000")
        apply = parse_apply_log(out.decode(errors="replace"))
        assert apply.applied, out
        lap("apply_s")
        script = eval_script(case.instance, case.spec, layout_for("clone", "/work/repo"), base=base)
        _, out = c.exec_run(["/bin/bash", "-c", script], user="1000:1000", workdir="/work/repo")
        inst = case.instance
        parsed = read_test_log(out.decode(errors="replace"), parser=case.spec.log_parser)
        lap("tests_s")
        return grade(parsed.statuses, inst.FAIL_TO_PASS, inst.PASS_TO_PASS).resolved, phases
    finally:
        c.remove(force=True)
        lap("remove_s")


async def main() -> None:
    args = parser(__doc__ or "").parse_args()
    names = instance_names()
    reps = 1 if args.quick else 3
    cases = [swe_case(n) for n in names]
    harness = SWEHarness(DockerSandboxConfig().build())
    client = docker_client()
    image = default_image()
    archives: dict[str, tuple[bytes, str]] = {}
    for case in cases:  # host repos built once for both sides, outside the timings
        folder, base = await harness.cache.get(case)
        archives[case.id] = (repo_tar(folder, case), base)
    # warm-up: image layers, executor threads, the first container of each kind
    await harness.evaluate(cases[0], cases[0].instance.patch)
    raw_evaluate(client, image, cases[0], *archives[cases[0].id])

    ours: list[float] = []
    raw: list[float] = []
    phases: dict[str, list[float]] = {}
    raw_phases: dict[str, list[float]] = {}
    resolved_ours = resolved_raw = 0
    for _ in range(reps):
        for case in cases:
            t0 = time.perf_counter()
            verdict = await harness.evaluate(case, case.instance.patch)
            ours.append(time.perf_counter() - t0)
            resolved_ours += verdict.correct
            for k, v in verdict.details["timings"].items():
                phases.setdefault(k, []).append(v)
            t0 = time.perf_counter()
            ok, laps = await asyncio.to_thread(
                raw_evaluate, client, image, case, *archives[case.id]
            )
            raw.append(time.perf_counter() - t0)
            resolved_raw += ok
            for k, v in laps.items():
                raw_phases.setdefault(k, []).append(v)
    await harness.aclose()
    value, baseline = statistics.median(ours), statistics.median(raw)
    ratio = value / baseline
    total = len(cases) * reps
    print(f"thinktank: median {value:.3f} s/instance  (phases: "
          + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in phases.items()) + ")")  # fmt: skip
    print(f"raw SDK:   median {baseline:.3f} s/instance  (phases: "
          + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in raw_phases.items()) + ")")  # fmt: skip
    emit(
        "swe_harness",
        metric="eval_seconds_per_instance",
        value=value,
        unit="s",
        baseline=baseline,
        ratio=ratio,
        target=1.3,
        ok=ratio <= 1.3 and resolved_ours == resolved_raw == total,
        instances=total,
        resolved=resolved_ours,
        resolved_raw=resolved_raw,
        phases_median_s={k: round(statistics.median(v), 4) for k, v in phases.items()},
        raw_phases_median_s={k: round(statistics.median(v), 4) for k, v in raw_phases.items()},
    )


if __name__ == "__main__":
    asyncio.run(main())
