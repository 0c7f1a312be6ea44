"""``build`` mode, step 1: the Python an environment image gets.

:func:`find_python` looks on the host for an interpreter of the spec's version: one
``uv`` manages or can install (``uv python find/install``), then ``pythonX.Y`` on the
``PATH`` and pyenv's versions. Only a self-contained one (its own prefix, not
``/usr``) is taken, as it is copied into the image at the same path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PythonFound:
    """A host interpreter of the wanted version."""

    executable: str
    prefix: str
    version: str
    """``X.Y.Z``."""
    source: str
    """``uv``, ``PATH`` or ``pyenv``."""

    @property
    def relocatable(self) -> bool:
        """Its prefix is its own folder, so it can be copied into an image as it is."""
        return self.prefix not in ("/", "/usr", "/usr/local") and not self.prefix.startswith(
            ("/usr/lib", "/System")
        )


def _probe(candidate: str) -> tuple[str, str, str] | None:
    code = "import sys; print(sys.executable); print(sys.base_prefix); print('%d.%d.%d' % sys.version_info[:3])"
    try:
        proc = subprocess.run(
            [candidate, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 3:
        return None
    return lines[0], lines[1], lines[2]


def _uv() -> str | None:
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def find_python(version: str, *, allow_download: bool = True) -> PythonFound | None:
    """A host interpreter of ``version`` (``"3.9"``): uv's, then ``PATH``, then pyenv's."""
    candidates: list[tuple[str, str]] = []
    uv = _uv()
    if uv:
        for args in (["python", "find", "--no-project", version],) + (
            (["python", "install", version],) if allow_download else ()
        ):
            try:
                proc = subprocess.run(
                    [uv, *args], capture_output=True, text=True, timeout=120, check=False
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            if args[1] == "find" and proc.returncode == 0 and proc.stdout.strip():
                candidates.append((proc.stdout.strip().splitlines()[-1], "uv"))
                break
            if args[1] == "install" and proc.returncode == 0:
                again = subprocess.run(
                    [uv, "python", "find", "--no-project", version],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if again.returncode == 0 and again.stdout.strip():
                    candidates.append((again.stdout.strip().splitlines()[-1], "uv"))
    which = shutil.which(f"python{version}")
    if which:
        candidates.append((which, "PATH"))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        for d in sorted(pyenv.glob(f"{version}.*"), reverse=True):
            if (d / "bin" / f"python{version}").exists():
                candidates.append((str(d / "bin" / f"python{version}"), "pyenv"))
    for path, source in candidates:
        got = _probe(path)
        if got and ".".join(got[2].split(".")[:2]) == version:
            found = PythonFound(got[0], got[1], got[2], source)
            if found.relocatable:
                return found
    return None
