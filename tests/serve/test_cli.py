"""``thinktank serve`` on the command line: help, bad input, and a real server process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
from typer.testing import CliRunner

from tests.test_startup import HEAVY, cli, loaded
from thinktank.cli.app import app
from thinktank.llm.simulator import SimulatorServer, TaskSet
from thinktank.serve.config import ServeConfig

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["serve", *args])
    return res.exit_code, res.output


def test_help_names_the_endpoints_and_loads_nothing_heavy(tmp_path: Path) -> None:
    code, text = _run("--help")
    flat = " ".join(text.split())
    assert code == 0
    assert "/v1/chat/completions" in flat and "X-Thinktank-Budget-Usd" in flat
    assert "THINKTANK_SERVE_API_KEY" in flat
    modules, stdout = loaded(cli("serve", "--help"), tmp_path)
    assert "--max-concurrency" in stdout and "--gc-threshold" in stdout
    assert sorted(modules & set(HEAVY)) == []


def test_bad_input_exits_1_with_the_fix(sim: tuple[SimulatorServer, TaskSet]) -> None:
    model = ["--model", f"openai:sim@{sim[0].base_url}"]
    code, text = _run("--graph", "bestofn:n=8", *model)
    assert code == 1 and "unknown topology 'bestofn'; valid topologies: single, best_of_n" in text
    code, text = _run("--graph", "single", "--kind", "poetry", *model)
    assert code == 1 and "valid kinds: math, choice, text, code" in text
    code, text = _run("--graph", "a=single", "--graph", "a=best_of_n:n=2", *model)
    assert code == 1 and "two graphs are served as 'a'" in text
    code, text = _run("--graph", "single", "--model", "gpt-4o")
    assert code == 1 and "unknown model 'gpt-4o'" in text
    code, text = _run("--graph", "missing.yaml", *model)
    assert code == 1 and "missing.yaml" in text


def test_a_public_host_without_a_key_is_warned_about(sim: tuple[SimulatorServer, TaskSet]) -> None:
    # 192.0.2.1 (TEST-NET-1) is no interface of this machine: the warning, then the bind fails
    code, text = _run(
        "--graph", "single", "--model", f"openai:sim@{sim[0].base_url}", "--host", "192.0.2.1"
    )
    flat = " ".join(text.split())
    assert "warning: serving on 192.0.2.1 without an API key" in flat
    assert code == 1 and "cannot serve on 192.0.2.1:8000" in flat


def test_the_command_serves_until_interrupted(sim: tuple[SimulatorServer, TaskSet]) -> None:
    server, tasks = sim
    argv = [
        str(Path(sys.executable).with_name("thinktank")), "serve", "--graph", "single",
        "--graph", "bo3=best_of_n:n=3", "--model", f"openai:sim@{server.base_url}",
        "--port", "0", "--kind", "math",
    ]  # fmt: skip
    env = {**os.environ, "THINKTANK_SERVE_API_KEY": "k"}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[0].startswith("model: openai:sim@"), lines
        m = re.match(r"serving single, bo3 at (http://127\.0\.0\.1:\d+/v1)", lines[1])
        assert m, lines
        client = openai.OpenAI(base_url=m.group(1), api_key="k", max_retries=0)
        assert [x.id for x in client.models.list()] == ["single", "bo3"]
        q = tasks.questions[0]
        reply = client.chat.completions.create(
            model="bo3", messages=[{"role": "user", "content": q.question}]
        )
        assert reply.choices[0].message.content
        assert (reply.model_extra or {})["thinktank"]["samples"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


SERVE_AND_REPORT = """
import gc, json, os, signal, sys
from thinktank.llm.testing import ScriptedModel
from thinktank.serve.config import ServeConfig
from thinktank.serve.registry import GraphRegistry
from thinktank.serve.server import serve_forever

def ready(url):
    print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}), flush=True)
    os.kill(os.getpid(), signal.SIGINT)

# Ctrl-C as in a terminal: a suite started in the background (nohup ... &) passes its
# children SIGINT ignored, and the signal above, sent before uvicorn takes SIGINT over,
# would be dropped (the server then ran until the test's timeout)
signal.signal(signal.SIGINT, signal.default_int_handler)

registry = GraphRegistry.build(["single"], ScriptedModel(["4"]))
try:
    serve_forever(registry, ServeConfig(port=0, **json.loads(sys.argv[1])), on_ready=ready)
except KeyboardInterrupt:
    pass
"""


def test_the_serving_process_tunes_its_garbage_collector() -> None:
    """``serve_forever`` (what the command runs) freezes what start-up built and sets the
    collector's first threshold from the config; 0 leaves the interpreter's."""

    def started(**config: int) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-c", SERVE_AND_REPORT, json.dumps(config)],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return dict(json.loads(out.stdout.splitlines()[0]))

    default = started()
    assert default["threshold"][0] == ServeConfig().gc_threshold == 10_000
    assert default["frozen"] > 1000  # modules, the compiled graph, the app
    assert started(gc_threshold=12_345)["threshold"] == [12_345, 10, 10]
    assert started(gc_threshold=0)["threshold"] == [700, 10, 10]
