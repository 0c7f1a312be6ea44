"""The house holds: the import contract in pyproject.toml passes and fails when an upward
import is added, no package uses another package's private module, no module is over
400 lines."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        cwd=src,
    )


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        # a model-layer module reaching up into the eval runner
        ("llm.upward", "thinktank.evals.runs.runner"),
        # inside evals: a task module reaching up into the runs (evals-layers contract)
        ("evals.tasks.upward", "thinktank.evals.runs.records"),
        # SWE-bench reaching up into the environment registry
        ("evals.swe.upward", "thinktank.evals.environments.base"),
        # the memory store reaching up into the learner, or into the evals above it
        ("memory.upward", "thinktank.learning.runner_hook"),
        ("memory.upward", "thinktank.evals.tasks.evaluators"),
    ],
)
def test_the_import_contracts_hold_and_catch_an_upward_import(
    tmp_path: Path, module: str, imports: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "thinktank", src / "thinktank")
    ok = _lint(src)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", ok.stdout), ok.stdout
    path = src / "thinktank" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(f"import {imports}\n")
    bad = _lint(src)
    assert bad.returncode != 0
    assert f"thinktank.{module} -> {imports}" in bad.stdout, bad.stdout


def test_no_package_imports_another_packages_private_module() -> None:
    graph = grimp.build_graph("thinktank", exclude_type_checking_imports=True)
    crossings = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            parts = imported.split(".")
            private = [i for i, p in enumerate(parts) if i and p.startswith("_") and p[1] != "_"]
            if not private:
                continue
            owner = ".".join(parts[: private[0]])  # the package the private module belongs to
            if module != owner and not module.startswith(owner + "."):
                crossings.append(f"{module} -> {imported}")
    assert crossings == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "src" / "thinktank").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
