"""Tracing overhead through ``thinktank serve`` (issue 17's bar: tracing on vs off
≤ 1.05× wall): 500 best-of-8 requests at concurrency 32 on the simulator, served with
OpenTelemetry export on and off.

Two ``thinktank serve --graph bo8=best_of_n:n=8 --max-concurrency 32`` processes on one
simulator (synthetic task model, ``--latency-ms`` per call, 100 ms by default), started
as a user would: ``untraced`` with no ``OTEL_*`` variable (tracing off: the hooks hand
back what they are given), ``traced`` with the standard variables sending every span
over OTLP/HTTP (batched at the ``OTEL_BSP_*`` defaults, encoded and sent by the server's
exporting child process, ``thinktank.telemetry._sidecar``) to a collector in a process
of its own:

* ``--collector receiver`` (default): a minimal OTLP/HTTP receiver (``_otlp_receiver.py``)
  that decodes each export and counts its spans — the exporter's whole path, with a
  collector that costs next to nothing;
* ``--collector phoenix``: Arize Phoenix as the tests start it (``make collector``); it
  ingests and stores on the same 2 cores, so its own CPU shows in the traced wall.

The client (httpx on aiohttp, as in ``serve_overhead.py``) sends the same questions with
the same seeds to both. Every repetition starts a new pair of servers (two processes of
one program differ in speed by several per cent, from memory layout and hash seeds: one
pair would carry its difference into every repetition) and warms both; within it the
sides take turns every ``--chunk`` requests (50; the order flips every turn), so both
meet the same moments of a machine whose other jobs come and go; a side's wall is the
sum of its turns. ``ratio`` is the median over repetitions of
traced / untraced wall (``ratio_of_medians``: of the sides' medians). ``ok`` when
``ratio`` ≤ 1.05, the answers and tokens agree, and the collector received every span:
18 per request (the server's ``chat`` span, the run, 8 samples, 8 model calls).
``cpu_s``: CPU seconds per process per side (``/proc``), the traced server's span
exporting process (``exporter``, see ``thinktank.telemetry._sidecar``) included;
``server_cpu_ratio``: the traced server's CPU over the untraced one's.
``--quick``: 128 requests × 2 repetitions; the full run 500 × 15 (the walls of one
repetition's sides differ by ±5 % on a quiet 2-core machine even when both are untraced,
so the median needs that many). ``--control``: both servers untraced, the same harness
measuring its own noise (the ratio a run gives when tracing costs nothing).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from _common import ROOT, emit, parser
from serve_overhead import CONCURRENCY, MODEL_CONCURRENCY, N_SAMPLES, cpu_s, http_client, served
from serve_overhead import start_server as _start_server

from thinktank.llm.simulator import SimulatorConfig, SimulatorProcess, SyntheticConfig, TaskSet

TARGET = 1.05
SPANS_PER_REQUEST = 2 + 2 * N_SAMPLES
PROJECT = "serve-tracing-bench"


@contextmanager
def receiver() -> Iterator[tuple[str, Any, int]]:
    """The minimal OTLP receiver: its base URL and a function counting spans received."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_otlp_receiver.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        yield url, lambda: int(httpx.get(f"{url}/count", timeout=30).json()["spans"]), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # its count is read already: stop it anyway
            proc.kill()
            proc.wait(timeout=30)


@contextmanager
def phoenix() -> Iterator[tuple[str, Any, int]]:
    sys.path.insert(0, str(ROOT))
    from tests.telemetry import phoenix as px

    with tempfile.TemporaryDirectory() as tmp, px.running(Path(tmp)) as server:
        yield server.otlp_http, lambda: len(server.spans(PROJECT)), server.proc.pid


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the traced server's span exporting process)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def wait_count(count: Any, expected: int, timeout_s: float = 180.0) -> int:
    """Spans the collector holds once it has them all (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = int(count())
        if got >= expected or time.monotonic() > deadline:
            return got
        time.sleep(1.0)


class Lost(Exception):
    """A request that got no reply (the connection failed)."""


async def measure_rep(
    urls: dict[str, str], pids: dict[str, int], n: int, rep: int, chunk: int
) -> dict[str, Any]:
    """One repetition on one pair of servers: each side's wall (the sum of its turns),
    CPU seconds per process, and per request (answer, tokens)."""
    tasks = TaskSet.generate(64, seed=17)
    prompts = [tasks.questions[i % 64].question for i in range(n)]
    seeds = list(range(n))
    clients = {side: http_client(url, "httpx") for side, url in urls.items()}
    wall = dict.fromkeys(urls, 0.0)
    cpu: dict[str, dict[str, float]] = {k: dict.fromkeys(pids, 0.0) for k in urls}
    results: dict[str, list[tuple[str | None, int]]] = {k: [] for k in urls}
    try:
        for c in clients.values():  # warm connections, imports and caches
            await served(c, prompts[:CONCURRENCY], seeds[:CONCURRENCY])
        names = list(urls)
        # the requests go in chunks, the sides taking turns chunk by chunk (the order
        # flipping every chunk), so both see the same moments of a busy machine
        for j, start in enumerate(range(0, n, chunk)):
            part = slice(start, start + chunk)
            for name in names[(rep + j) % 2 :] + names[: (rep + j) % 2]:
                before = {k: cpu_s(pid) for k, pid in pids.items()}
                try:
                    w, out = await served(clients[name], prompts[part], seeds[part])
                except httpx.TransportError as exc:
                    raise Lost(f"repetition {rep + 1}, {name} side, requests {start}..") from exc
                wall[name] += w
                for k, pid in pids.items():
                    cpu[name][k] += cpu_s(pid) - before[k]
                results[name] += out
    finally:
        for c in clients.values():
            await c.aclose()
    return {"wall": wall, "cpu": cpu, "results": results}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=None)
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--collector", choices=["receiver", "phoenix"], default="receiver")
    p.add_argument(
        "--control",
        action="store_true",
        help="both sides untraced: the harness's own noise (the ratio should be 1)",
    )
    p.add_argument(
        "--chunk", type=int, default=50, help="requests a side sends before the other's turn"
    )
    args = p.parse_args()
    n = args.requests or (128 if args.quick else 500)
    reps = args.reps or (2 if args.quick else 15)
    cfg = SimulatorConfig(
        latency=args.latency_ms, synthetic=SyntheticConfig(tasks=TaskSet.generate(64, seed=17))
    )
    collector = receiver if args.collector == "receiver" else phoenix
    plain = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    walls: dict[str, list[float]] = {"untraced": [], "traced": []}
    cpu: dict[str, dict[str, float]] = {}
    same_answers = same_tokens = True
    with (
        SimulatorProcess(cfg) as sim,
        tempfile.TemporaryDirectory() as tmp,
        collector() as (endpoint, count, collector_pid),
    ):
        model_file = Path(tmp) / "model.yaml"
        spec = {"type": "openai", "model": "sim", "base_url": sim.base_url}
        model_file.write_text(yaml.safe_dump({**spec, "concurrency": MODEL_CONCURRENCY}))
        traced_env = {
            **plain,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
        }
        envs = {"untraced": plain, "traced": plain if args.control else traced_env}
        # a new pair of servers every repetition: two processes of one program differ in
        # speed by several per cent (memory layout, hash seeds), a difference one pair
        # would carry into every repetition; over fresh pairs it is noise the median absorbs
        assert sim.proc is not None
        for rep in range(reps):
            names = list(envs) if rep % 2 == 0 else list(envs)[::-1]  # who starts first
            servers: dict[str, tuple[subprocess.Popen[str], str]] = {}
            stopped = False
            try:
                for k in names:
                    servers[k] = _start_server(model_file, env=envs[k])
                traced_pid = servers["traced"][0].pid
                kids = children(traced_pid)
                pids = {
                    "bench": os.getpid(),
                    "simulator": sim.proc.pid,
                    "untraced": servers["untraced"][0].pid,
                    "traced": traced_pid,
                    **({"exporter": kids[0]} if kids else {}),
                    "collector": collector_pid,
                }
                urls = {k: servers[k][1] for k in envs}
                try:
                    got = asyncio.run(measure_rep(urls, pids, n, rep, args.chunk))
                except Lost as exc:  # which request, and whether a server had exited
                    codes = {k: p.poll() for k, (p, _) in servers.items()}
                    cause = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
                    sys.exit(f"serve_tracing: {exc}: {cause}; servers' exit codes: {codes}")
                for proc, _ in servers.values():  # a stopping server flushes its spans
                    proc.send_signal(signal.SIGINT)
                    proc.wait(timeout=120)
                stopped = True
            finally:
                if not stopped:
                    for proc, _ in servers.values():
                        proc.kill()
            for side in envs:
                walls[side].append(got["wall"][side])
                per = cpu.setdefault(side, {})
                for k, c in got["cpu"][side].items():
                    per[k] = per.get(k, 0.0) + c / reps
            answers = {k: [a for a, _ in v] for k, v in got["results"].items()}
            tokens = {k: [t for _, t in v] for k, v in got["results"].items()}
            same_answers = same_answers and answers["traced"] == answers["untraced"]
            same_tokens = same_tokens and tokens["traced"] == tokens["untraced"]
        expected = 0 if args.control else reps * (CONCURRENCY + n) * SPANS_PER_REQUEST
        received = wait_count(count, expected)
    pairs = [t / u for t, u in zip(walls["traced"], walls["untraced"], strict=True)]
    med = {k: statistics.median(v) for k, v in walls.items()}
    ratio = statistics.median(pairs)  # each rep's sides ran back to back
    of_medians = med["traced"] / med["untraced"]
    best = min(walls["traced"]) / min(walls["untraced"])
    server_cpu = cpu["traced"]["traced"] / cpu["untraced"]["untraced"]
    print(
        f"{n} requests x best-of-{N_SAMPLES} through thinktank serve, concurrency {CONCURRENCY}, "
        f"{args.latency_ms:g} ms per call, {reps} reps, collector {args.collector}"
    )
    for k, v in walls.items():
        line = ", ".join(f"{p} {c:.2f}" for p, c in cpu[k].items())
        print(
            f"  {k:9s} median {med[k]:6.2f} s  ({', '.join(f'{w:.2f}' for w in v)}); CPU s: {line}"
        )
    print(
        f"  traced / untraced, median of the reps' ratios = {ratio:.3f} (target <= {TARGET}); "
        f"of the medians {of_medians:.3f}; fastest reps {best:.3f}; server CPU {server_cpu:.3f}"
    )
    print(f"  spans received {received} of {expected}; same answers: {same_answers}")
    emit(
        "serve_tracing",
        metric=f"wall of {n} best-of-{N_SAMPLES} requests through thinktank serve, "
        "OpenTelemetry export on vs off",
        value=med["traced"],
        unit="s",
        baseline=med["untraced"],
        ratio=ratio,
        target=TARGET,
        ok=ratio <= TARGET and received == expected and same_answers and same_tokens,
        requests=n,
        reps=reps,
        chunk=args.chunk,
        latency_ms=args.latency_ms,
        concurrency=CONCURRENCY,
        collector=args.collector,
        control=args.control,
        ratio_of_medians=round(of_medians, 4),
        ratio_best=round(best, 4),
        ratios=[round(r, 4) for r in pairs],
        server_cpu_ratio=round(server_cpu, 4),
        spans_expected=expected,
        spans_received=received,
        same_answers=same_answers,
        same_tokens=same_tokens,
        cpu_s={k: {p: round(c, 2) for p, c in v.items()} for k, v in cpu.items()},
    )


if __name__ == "__main__":
    main()
