"""Start-up: what the quick command paths import.

Each case runs in a fresh interpreter and lists ``sys.modules`` at the end. No
timing (a busy machine must not fail a test): the wall-clock figures are in
``bench/cli_startup.py``; this guards the cause, heavy packages loaded by commands
that do not use them.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

# loaded only by the commands and modules that use them
HEAVY = (
    "aiohttp",
    "docker",
    "httpx",
    "langchain_core",
    "langgraph",
    "langsmith",
    "matplotlib",
    "numpy",
    "openai",
    "optuna",
    "ray",
    "starlette",
    "trafilatura",
    "uvicorn",
)

_PROBE = """
import json, sys
out, code = sys.argv[1], sys.argv[2]
status = 0
try:
    exec(code)
except SystemExit as exc:
    status = exc.code or 0
with open(out, "w") as f:
    json.dump({"status": status, "modules": sorted(sys.modules)}, f)
"""


def loaded(code: str, tmp_path: Path) -> tuple[set[str], str]:
    """Top-level packages in ``sys.modules`` after running ``code``, and its stdout."""
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["status"] == 0, proc.stderr
    return {m.split(".")[0] for m in result["modules"]}, proc.stdout


def cli(*argv: str) -> str:
    """Code running ``thinktank ARGV`` as the console script does."""
    return (
        f"import sys\nsys.argv = ['thinktank', *{list(argv)!r}]\n"
        "from thinktank.cli.app import main\nmain()"
    )


@pytest.mark.parametrize(
    ("argv", "shows"),
    [
        (["--help"], "graph"),
        (["--version"], "thinktank"),
        (["graph", "show", "single"], "flowchart"),
        (["graph", "show", "debate:m=3,r=2"], "flowchart"),
        (["graph", "show", "--help"], "Mermaid"),
    ],
    ids=["help", "version", "graph-show", "graph-show-params", "graph-show-help"],
)
def test_quick_commands_import_no_heavy_package(
    argv: list[str], shows: str, tmp_path: Path
) -> None:
    modules, stdout = loaded(cli(*argv), tmp_path)
    assert shows in stdout
    assert sorted(modules & set(HEAVY)) == []


@pytest.mark.parametrize(
    "module",
    ["thinktank.graphs", "thinktank.graphs.topologies", "thinktank.llm", "thinktank.evals"],
)
def test_importing_a_package_loads_no_heavy_package(module: str, tmp_path: Path) -> None:
    modules, _ = loaded(f"import {module}", tmp_path)
    assert sorted(modules & set(HEAVY)) == []


def test_the_probe_sees_heavy_packages(tmp_path: Path) -> None:
    # the guard above can fail: a public name that needs LangGraph still loads it
    modules, _ = loaded("from thinktank.graphs import compile", tmp_path)
    assert {"langgraph", "langchain_core"} <= modules


@pytest.mark.parametrize("package", ["thinktank.graphs", "thinktank.llm"])
def test_lazy_packages_export_the_same_objects(package: str) -> None:
    pkg = importlib.import_module(package)
    assert set(pkg._LAZY) == set(pkg.__all__)
    for name, module in pkg._LAZY.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name), name
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = pkg.nope
