"""``build`` mode, step 2, on the host: what an environment needs, resolved into a wheelhouse.

:func:`environment_requirements` reads the spec's ``packages`` (the repository's
requirement files at its environment commit, a conda ``environment.yml``'s
dependencies, or a package list) and ``pip_packages``; :func:`export_tree` writes the
repository at that commit (tagged with its release, :func:`release_version`, so
version tools see the real one); :func:`fill_wheelhouse` has ``pip wheel`` resolve and
build everything, the repository's own dependencies and build backend included. Only
the host talks to the package index.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import tarfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from thinktank.errors import ConfigError, InfrastructureError
from thinktank.evals.swe.loader import SWEInstance, SWESpec


def _conda_to_pip(spec: str) -> str | None:
    """A conda package spec as a pip requirement (``None`` for what pip cannot install)."""
    spec = spec.strip().strip("'\"")
    if "::" in spec:
        spec = spec.split("::", 1)[1]
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not m or m.group(1) in ("python", "pip"):
        return None
    name, rest = m.group(1), m.group(2).replace(" ", "")
    if rest.startswith("=") and not rest.startswith("=="):  # conda's "=1.2" is "1.2.*"
        version = rest[1:]
        rest = "==" + (version if version.endswith("*") else version + ".*")
    return name + rest


def _env_yml_requirements(text: str) -> list[str]:
    import yaml

    data = yaml.safe_load(text) or {}
    out: list[str] = []
    for dep in data.get("dependencies") or []:
        if isinstance(dep, str):
            req = _conda_to_pip(dep)
            if req:
                out.append(req)
        elif isinstance(dep, dict):
            out.extend(str(x) for x in dep.get("pip") or [])
    return out


def _git(source: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(source), *args], capture_output=True, check=False)


def environment_requirements(spec: SWESpec, tree: Path) -> tuple[list[str], list[str]]:
    """(pip requirement lines, warnings) for the spec's ``packages`` and ``pip_packages``;
    ``tree`` holds the repository at its environment commit."""
    reqs: list[str] = []
    warnings: list[str] = []
    packages = spec.packages.strip()
    if packages == "requirements.txt":
        found = [p for p in spec.requirements_paths if (tree / p).is_file()]
        if not found:
            warnings.append(f"none of the requirement files {spec.requirements_paths} exists")
        for p in found[:1]:  # the first that exists, as the official harness reads it
            reqs += requirement_lines(tree / p)
    elif packages == "environment.yml":
        found = [p for p in spec.env_yml_paths if (tree / p).is_file()]
        if not found:
            warnings.append(f"none of the environment files {spec.env_yml_paths} exists")
        for p in found[:1]:
            reqs += _env_yml_requirements((tree / p).read_text(encoding="utf-8"))
            warnings.append(f"conda environment {p} installed with pip (best effort)")
    elif packages:
        for word in shlex.split(packages):
            req = _conda_to_pip(word)
            if req:
                reqs.append(req)
    reqs += spec.pip_packages
    return reqs, warnings


REPLACED_REQUIREMENTS = {"types-pkg_resources": "types-setuptools"}
"""Packages gone from PyPI that old requirement files name, and what stands in for them
(the official harness makes the same replacement)."""


def requirement_lines(path: Path, *, depth: int = 0) -> list[str]:
    """A requirement file's requirements, its ``-r`` includes inlined, the repository
    itself (``-e .``, ``.[test]``) and comments left out, gone packages replaced."""
    out: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-e .", ".[", "-e.")):
            continue
        if line.startswith(("-r", "--requirement")):
            name = line.split(None, 1)[1] if " " in line else line[2:]
            inner = path.parent / name.strip()
            if depth < 3 and inner.is_file():
                out += requirement_lines(inner, depth=depth + 1)
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) in REPLACED_REQUIREMENTS:
            line = REPLACED_REQUIREMENTS[m.group(1)]
        out.append(line)
    return out


def install_extras(spec: SWESpec) -> str:
    """The extras the spec's install command asks for (``pip install -e .[test]`` → ``[test]``)."""
    for command in spec.install:
        m = re.search(r"-e\s+['\"]?\.(\[[^\]]+\])", command)
        if m:
            return m.group(1)
    return ""


def build_requirements(tree: Path) -> list[str]:
    """The repository's build backend requirements (PEP 518; setuptools and wheel by default)."""
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
        requires = (data.get("build-system") or {}).get("requires")
        if isinstance(requires, list) and requires:
            return [str(r) for r in requires] + ["setuptools", "wheel"]
    return ["setuptools>=40.8.0", "wheel"]


def release_version(source: Path, commit: str) -> str:
    """The release ``commit`` belongs to (``git describe --tags``), as a version string."""
    out = _git(source, "describe", "--tags", "--abbrev=0", commit)
    tag = out.stdout.decode(errors="replace").strip() if out.returncode == 0 else ""
    m = re.search(r"(\d+(?:\.\d+)*(?:[._-]?(?:a|b|rc|dev|post)\.?\d*)*)", tag)
    return m.group(1).replace("-", ".").replace("_", ".") if m else "0.0.0"


def export_tree(source: Path, commit: str, dest: Path, instance: SWEInstance) -> None:
    dest.mkdir(parents=True)
    archive = _git(source, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise ConfigError(
            f"{instance.instance_id}: commit {commit} is not in the clone at {source} "
            f"({archive.stderr.decode(errors='replace').strip()}); run `git -C {source} fetch` "
            "to bring it up to date"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    # a one-commit repository with the release tag: version tools read it as a checkout
    env = {**os.environ, "GIT_AUTHOR_NAME": "thinktank", "GIT_AUTHOR_EMAIL": "swe@thinktank.invalid",
           "GIT_COMMITTER_NAME": "thinktank", "GIT_COMMITTER_EMAIL": "swe@thinktank.invalid"}  # fmt: skip
    for args in (
        ["init", "-q"],
        ["add", "-A", "-f"],
        ["-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", commit],
        ["tag", "v" + release_version(source, commit)],
    ):
        subprocess.run(["git", *args], cwd=dest, env=env, capture_output=True, check=False)


def _run(argv: list[str], record: Callable[[str], None], env: dict[str, str], what: str) -> None:
    record("$ " + " ".join(shlex.quote(a) for a in argv))
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    record(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise InfrastructureError(f"could not {what} (exit {proc.returncode}):\n{tail}")


def fill_wheelhouse(
    host_py: str,
    reqs: list[str],
    tree: Path,
    wheels: Path,
    record: Callable[[str], None],
    version_hint: str,
    extras: str = "",
) -> str | None:
    """Fill ``wheels`` (and ``wheels/build``); return the repository's project name."""
    req_file = wheels.parent / "requirements.txt"
    req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    # the exported tree has no .git: version tools get the release the commit belongs to
    env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version_hint
    own = wheels.parent / "own"
    _run(
        [host_py, "-m", "pip", "wheel", "--use-pep517", "--no-deps", "-w", str(own), str(tree)],
        record, env, "build the repository's own wheel (for its name)",
    )  # fmt: skip
    built = sorted(own.glob("*.whl"))
    project = built[0].name.split("-")[0].lower() if built else None
    _run(
        [host_py, "-m", "pip", "wheel", "--use-pep517", "-w", str(wheels), "-r", str(req_file),
         f"{tree}{extras}"],
        record, env, "resolve and build the environment's wheels",
    )  # fmt: skip
    if project:
        for whl in wheels.glob("*.whl"):
            if whl.name.split("-")[0].lower() == project:
                whl.unlink()
    _run(
        [host_py, "-m", "pip", "download", "-d", str(wheels / "build"),
         *build_requirements(tree)],
        record, env, "download the build backend",
    )  # fmt: skip
    return project
