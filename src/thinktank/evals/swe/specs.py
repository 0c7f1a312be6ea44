"""An SWE-bench instance's environment and test specification, from wherever it is known.

Three sources, tried in this order and merged:

1. **The instance itself.** Datasets made by ``swebench`` 5 carry ``eval_script``
   (the official evaluation script), ``log_parser`` (the name of the parser of its
   test output), ``eval_type`` and ``image`` (the official evaluation image). When an
   instance has them they are used as they are, whatever ``swebench`` is installed.
2. **The ``swebench`` package's tables** (``swebench`` 4.x,
   ``MAP_REPO_VERSION_TO_SPECS``): the Python version, conda/pip packages, pre-install,
   install and test commands per repository and version; ``MAP_REPO_TO_PARSER`` for the
   parser; ``get_test_directives`` for what to run. ``swebench`` 5 moved these tables
   into its datasets, so with it only instances that carry their scripts have a full
   specification (``build`` mode needs the tables: ``pip install 'swebench<5'``).
3. **A pytest fallback**: ``python -m pip install -e .`` and ``python -m pytest -rA``
   on the test patch's files, with a ``note`` saying why.

Nothing here touches the network (``swebench``'s own script builders download
requirement files from GitHub; they are not called).
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from types import ModuleType
from typing import Any

from thinktank.evals.swe.loader import SWEInstance, SWESpec, fallback_spec

REPO_PARSERS = {
    "astropy/astropy": "parse_log_astropy",
    "django/django": "parse_log_django",
    "marshmallow-code/marshmallow": "parse_log_marshmallow",
    "matplotlib/matplotlib": "parse_log_matplotlib",
    "mwaskom/seaborn": "parse_log_seaborn",
    "pallets/flask": "parse_log_flask",
    "psf/requests": "parse_log_requests",
    "pvlib/pvlib-python": "parse_log_pvlib",
    "pydata/xarray": "parse_log_xarray",
    "pydicom/pydicom": "parse_log_pydicom",
    "pylint-dev/astroid": "parse_log_astroid",
    "pylint-dev/pylint": "parse_log_pylint",
    "pytest-dev/pytest": "parse_log_pytest",
    "pyvista/pyvista": "parse_log_pyvista",
    "scikit-learn/scikit-learn": "parse_log_scikit",
    "sphinx-doc/sphinx": "parse_log_sphinx",
    "sqlfluff/sqlfluff": "parse_log_sqlfluff",
    "sympy/sympy": "parse_log_sympy",
}
"""The ``swebench`` log parser of each Python repository of SWE-bench, by name (the
names are the same in ``swebench`` 4 and 5; instances may name another one)."""


@cache
def swebench_module(name: str = "") -> ModuleType | None:
    """``swebench[.name]`` when the package is installed and imports, else ``None``.

    Importing ``swebench`` 4 configures the root logger (INFO, a stderr handler), which
    would flood a user's console with every HTTP request; that is undone."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        return importlib.import_module("swebench" + (f".{name}" if name else ""))
    except ImportError:
        return None
    finally:
        root.setLevel(level)
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)


def swebench_version() -> str | None:
    """The installed ``swebench`` version, or ``None``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("swebench")
    except PackageNotFoundError:
        return None


def _tables() -> dict[str, Any]:
    constants = swebench_module("harness.constants")
    return dict(getattr(constants, "MAP_REPO_VERSION_TO_SPECS", None) or {})


def _lines(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _directives(instance: SWEInstance) -> list[str] | None:
    for module in ("harness.test_spec.python", "harness.utils"):
        fn = getattr(swebench_module(module), "get_test_directives", None)
        if fn is not None:
            try:
                return [str(d) for d in fn(instance.record())]
            except Exception:  # a third-party helper choking on an odd record
                return None
    return None


def _table_parser(repo: str) -> str | None:
    parsers = swebench_module("harness.log_parsers")
    table = getattr(parsers, "MAP_REPO_TO_PARSER", None) or {}
    fn = table.get(repo)
    return getattr(fn, "__name__", None) if fn is not None else None


def _package_spec(instance: SWEInstance) -> tuple[SWESpec | None, str]:
    """The spec from ``swebench``'s tables, or ``(None, why not)``."""
    version = swebench_version()
    if swebench_module("harness.constants") is None:
        return None, "swebench is not installed (pip install 'thinktank[swebench]')"
    table = _tables()
    if not table:
        return None, (
            f"swebench {version} ships no per-repository specifications (swebench 5 moved "
            "them into its datasets); load a dataset that carries eval_script, or install "
            "swebench 4 (pip install 'swebench<5')"
        )
    versions = table.get(instance.repo)
    if versions is None:
        return None, f"swebench {version} has no specification for the repository {instance.repo}"
    specs = versions.get(instance.version)
    if specs is None:
        known = ", ".join(sorted(versions, key=str)[-8:])
        return None, (
            f"swebench {version} has no specification for {instance.repo} version "
            f"{instance.version!r} (known: …{known})"
        )
    constants = swebench_module("harness.constants")
    reqs = getattr(constants, "MAP_REPO_TO_REQS_PATHS", {}).get(instance.repo, [])
    ymls = getattr(constants, "MAP_REPO_TO_ENV_YML_PATHS", {}).get(instance.repo, [])
    test_cmd = specs.get("test_cmd") or fallback_spec(instance).test_cmd
    if isinstance(test_cmd, list):
        test_cmd = " && ".join(test_cmd)
    spec = SWESpec(
        source="swebench",
        python=str(specs["python"]) if specs.get("python") else None,
        packages=str(specs.get("packages") or ""),
        pip_packages=_lines(specs.get("pip_packages")),
        requirements_paths=list(reqs),
        env_yml_paths=list(ymls),
        pre_install=_lines(specs.get("pre_install")),
        install=_lines(specs.get("install")),
        test_cmd=str(test_cmd),
        test_directives=_directives(instance) or instance.test_files(),
        eval_commands=_lines(specs.get("eval_commands")),
        log_parser=_table_parser(instance.repo) or REPO_PARSERS.get(instance.repo),
        swebench_version=version,
    )
    return spec, ""


def _carried(instance: SWEInstance) -> dict[str, Any]:
    extra = instance.model_extra or {}
    script = extra.get("eval_script")
    out: dict[str, Any] = {}
    if isinstance(script, str) and script.strip():
        out["eval_script"] = [
            ln
            for ln in script.strip().split("\n")
            if ln not in ("#!/bin/bash", "set -uxo pipefail")
        ]
    for key in ("log_parser", "image"):
        if isinstance(extra.get(key), str) and extra[key]:
            out[key] = extra[key]
    if extra.get("eval_type") in ("pass_and_fail", "fail_only"):
        out["eval_type"] = extra["eval_type"]
    return out


def swebench_spec(instance: SWEInstance) -> SWESpec:
    """The instance's spec: what it carries, over the ``swebench`` tables, over the fallback."""
    carried = _carried(instance)
    spec, why = _package_spec(instance)
    if spec is None:
        spec = fallback_spec(instance, why)
        spec = spec.model_copy(
            update={
                "log_parser": REPO_PARSERS.get(instance.repo),
                "swebench_version": swebench_version(),
            }
        )
    if carried.get("eval_script"):
        note = "" if spec.source == "swebench" else f"environment: {why}"
        spec = spec.model_copy(update={**carried, "source": "instance", "note": note})
    elif carried:
        spec = spec.model_copy(update=carried)
    return spec


def spec_summary(spec: SWESpec) -> str:
    """One line: where the spec came from (for logs and errors)."""
    parts: list[str] = [spec.source]
    if spec.swebench_version:
        parts.append(f"swebench {spec.swebench_version}")
    if spec.python:
        parts.append(f"python {spec.python}")
    if spec.note:
        parts.append(spec.note)
    return "; ".join(parts)


def spec_json(spec: SWESpec) -> str:
    """The spec as stable JSON (a content key for environment images)."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)
