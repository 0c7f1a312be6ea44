"""The commands trace when the OTEL_* variables say so (here: to the console exporter),
and a variable they cannot use is a usage error naming the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from thinktank.llm.simulator import SimulatorConfig, SimulatorServer, SyntheticConfig, TaskSet

THINKTANK = str(Path(sys.executable).with_name("thinktank"))


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    tasks = TaskSet.generate(2, seed=4)
    with SimulatorServer(SimulatorConfig(synthetic=SyntheticConfig(tasks=tasks))) as server:
        yield server


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [THINKTANK, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**clean, **env},
    )


def console_spans(stdout: str) -> list[dict[str, object]]:
    """The spans the console exporter printed (one indented JSON object each)."""
    spans, depth, buf = [], 0, []
    for line in stdout.splitlines():
        if depth == 0 and line != "{":
            continue
        buf.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            spans.append(json.loads("\n".join(buf)))
            buf = []
    return spans


def test_run_sends_its_spans_where_the_variables_say(sim: SimulatorServer) -> None:
    proc = run_cli(
        "run", "What is 2 + 2?", "--graph", "best_of_n:n=2", "--model",
        f"openai:sim@{sim.base_url}", OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="cli-test",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "tracing: spans go to the console (stdout)" in proc.stderr
    spans = console_spans(proc.stdout)
    names = sorted(str(s["name"]) for s in spans)
    assert names == [
        "chat sim", "chat sim", "invoke_agent solver", "invoke_agent solver",
        "invoke_workflow best_of_2_vote",
    ]  # fmt: skip
    [wf] = [s for s in spans if str(s["name"]).startswith("invoke_workflow")]
    assert all(
        s["context"]["trace_id"] == wf["context"]["trace_id"]  # type: ignore[index]
        for s in spans
    )
    assert all(s["resource"]["attributes"]["service.name"] == "cli-test" for s in spans)  # type: ignore[index]


def test_without_the_variables_nothing_is_traced(sim: SimulatorServer) -> None:
    proc = run_cli("run", "What is 2 + 2?", "--model", f"openai:sim@{sim.base_url}")
    assert proc.returncode == 0, proc.stderr
    assert "tracing" not in proc.stderr and '"trace_id"' not in proc.stdout


def test_a_variable_it_cannot_use_is_a_usage_error(sim: SimulatorServer) -> None:
    proc = run_cli(
        "run", "What is 2 + 2?", "--model", f"openai:sim@{sim.base_url}",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "tracing: OTLP protocol 'http/json' is not supported" in proc.stderr
    assert "Traceback" not in proc.stderr
