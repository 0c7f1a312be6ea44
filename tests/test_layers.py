"""The house holds: the import contract in pyproject.toml passes and fails when an upward
import is added, no package uses another package's private module, no module is over
400 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

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


def test_the_import_contract_holds_and_catches_an_upward_import(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "thinktank", src / "thinktank")
    ok = _lint(src)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 kept, 0 broken" in ok.stdout
    # a model-layer module reaching up into the eval runner breaks the contract
    (src / "thinktank" / "llm" / "upward.py").write_text(
        "from thinktank.evals.runs.runner import Runner\n"
    )
    bad = _lint(src)
    assert bad.returncode != 0
    assert "thinktank.llm.upward -> thinktank.evals.runs.runner" in bad.stdout, bad.stdout


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
