"""Tracing off costs nothing: no OpenTelemetry import by thinktank, no span, and every
hook hands back what it was given."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from thinktank import telemetry

# a model call, a tool call and a sandbox command: the per-call paths, without LangGraph
# (whose LangSmith dependency imports OpenTelemetry by itself when it is installed)
_CALLS = """
import asyncio, json, sys
from thinktank.llm.testing import FunctionModel
from thinktank.sandboxes import LocalSandboxConfig
from thinktank.tools.code import PythonTool
from thinktank.tools.toolset import Toolset
from thinktank.llm.types import ToolCall

async def main():
    m = FunctionModel(lambda r: "Answer: 1")
    [c] = await m.generate([{"role": "user", "content": "q"}])
    sb = await LocalSandboxConfig().build().create()
    try:
        res = await Toolset([PythonTool(sb)]).execute_call(
            ToolCall(id="c1", name="python", arguments='{"code": "print(3)"}'))
    finally:
        await sb.close()
    return c.text, res.content.strip()

out = asyncio.run(main())
print(json.dumps({"out": out, "otel": sorted(k for k in sys.modules if "opentelemetry" in k)}))
"""

# a whole graph run: LangGraph loads OpenTelemetry's API through LangSmith, but no SDK
# provider is set up, nothing of thinktank's tracing is imported, no exporter is loaded
_RUN = """
import json, sys
from opentelemetry import trace
from thinktank import compile, topology
from thinktank.testing import FunctionModel
res = compile(topology("best_of_n", n=3), models=FunctionModel(lambda r: "Answer: 5")).run_sync("q?")
print(json.dumps({
    "answer": res.answer,
    "thinktank": sorted(k for k in sys.modules if k.startswith("thinktank.telemetry")),
    "exporters": sorted(k for k in sys.modules if k.startswith("opentelemetry.exporter")),
    "provider": type(trace.get_tracer_provider()).__name__,
}))
"""


def _run(code: str, tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_model_tool_and_sandbox_calls_import_no_opentelemetry(tmp_path: Path) -> None:
    got = _run(_CALLS, tmp_path)
    assert got["out"] == ["Answer: 1", "3"]
    assert got["otel"] == []


def test_a_graph_run_loads_no_tracing_of_thinktanks(tmp_path: Path) -> None:
    got = _run(_RUN, tmp_path)
    assert got["answer"] == "5"
    assert got["thinktank"] == ["thinktank.telemetry", "thinktank.telemetry._env"]
    assert got["exporters"] == []
    assert got["provider"] == "ProxyTracerProvider"  # nobody set one up


def test_hooks_hand_back_what_they_are_given() -> None:
    assert not telemetry.enabled()

    async def op() -> int:
        return 1

    for hook, args in [
        (telemetry.workflow, ("g", "r", {"id": "t"}, None)),
        (telemetry.agent, (None, "s:1:0", 1, 0)),
        (telemetry.tool, (None, None)),
        (telemetry.sandbox_exec, (None, ["true"])),
        (telemetry.sandbox_cell, (None, "print(1)")),
        (telemetry.eval_task, (None,)),
        (telemetry.served, ("m", "chatcmpl-1", {})),
    ]:
        coro = op()
        assert hook(coro, *args) is coro  # type: ignore[operator]
        assert asyncio.run(coro) == 1
    # a finished call is not even looked at
    assert telemetry.chat(object(), object(), None, 0.0) is None
