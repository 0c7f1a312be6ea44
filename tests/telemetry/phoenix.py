"""Arize Phoenix, the trace collector the collector tests send spans to: started as users
start it (``phoenix serve``) on loopback ports of its own, with a fresh SQLite store, no
outside requests; read back through its REST API (``/v1/projects/{name}/spans``).

It lives in a venv of its own (``make collector`` makes ``.cache/collector`` from
``tests/telemetry/collector/uv.lock``) so its dependencies never move the project's;
``THINKTANK_PHOENIX`` may name another ``phoenix`` executable.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_PHOENIX = ROOT / ".cache" / "collector" / "bin" / "phoenix"
START_TIMEOUT_S = 300.0  # a cold start on a loaded 2-core machine: migrations, imports
WAIT_TIMEOUT_S = 120.0


def executable() -> Path | None:
    given = os.environ.get("THINKTANK_PHOENIX")
    path = Path(given) if given else VENV_PHOENIX
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Phoenix:
    """A running Phoenix: its OTLP endpoints and its span query."""

    def __init__(self, http_port: int, grpc_port: int, proc: subprocess.Popen[bytes]):
        self.http_port, self.grpc_port, self.proc = http_port, grpc_port, proc
        self.url = f"http://127.0.0.1:{http_port}"

    @property
    def otlp_http(self) -> str:
        """The base endpoint for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces)."""
        return self.url

    @property
    def otlp_grpc(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def env(self, project: str, protocol: str = "http/protobuf") -> dict[str, str]:
        """The standard variables that send a process's spans here, into ``project``."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_grpc if protocol == "grpc" else self.otlp_http,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }

    def spans(self, project: str, **params: Any) -> list[dict[str, Any]]:
        """Every span of ``project`` (all pages); ``[]`` while the project does not exist."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 1000, **params, **({"cursor": cursor} if cursor else {})}
            resp = httpx.get(f"{self.url}/v1/projects/{project}/spans", params=query, timeout=30)
            if resp.status_code == 404:
                return []
            resp.raise_for_status()
            body = resp.json()
            out.extend(body["data"])
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    def wait_for(
        self, project: str, done: Callable[[list[dict[str, Any]]], bool], **params: Any
    ) -> list[dict[str, Any]]:
        """The project's spans once ``done(spans)`` holds (ingestion is asynchronous)."""
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while True:
            spans = self.spans(project, **params)
            if done(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.5)


@contextmanager
def running(workdir: Path) -> Iterator[Phoenix]:
    exe = executable()
    if exe is None:
        raise FileNotFoundError(f"no Phoenix at {VENV_PHOENIX}: run `make collector`")
    http_port, grpc_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_"))},
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(workdir),
        # nothing but loopback: no telemetry pixels, fonts, downloads, sandboxes or agents
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
        "PHOENIX_AGENTS_DISABLE_BASH": "true",
    }
    log = (workdir / "phoenix.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"phoenix exited with {proc.returncode}: "
                    + (workdir / "phoenix.log").read_text(errors="replace")[-2000:]
                )
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=5).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"phoenix did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(1.0)
        yield Phoenix(http_port, grpc_port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def tree(spans: list[dict[str, Any]]) -> Any:
    """``(name, sorted subtrees)`` of the one root of ``spans`` (Phoenix's span records)."""
    ids = {s["context"]["span_id"] for s in spans}
    [root] = [s for s in spans if s["parent_id"] not in ids]

    def sub(span: dict[str, Any]) -> Any:
        kids = [s for s in spans if s["parent_id"] == span["context"]["span_id"]]
        return (span["name"], sorted(sub(k) for k in kids))

    return sub(root)
