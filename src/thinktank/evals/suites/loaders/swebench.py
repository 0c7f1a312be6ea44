"""SWE-bench (Lite / Verified / full) instances as tasks.

Sources: a ``.json`` / ``.jsonl`` file in the SWE-bench instance schema, or a
dataset on the Hugging Face hub through the ``datasets`` package (imported lazily;
``pip install 'thinktank[swebench]'``). ``FAIL_TO_PASS`` / ``PASS_TO_PASS`` may be
JSON strings (as in the published datasets) or lists.

Environment set-up and test commands come from the ``swebench`` package when it
is installed (``MAP_REPO_VERSION_TO_SPECS[repo][version]`` for python, pre-install,
install and test command; ``make_test_spec`` for its env/repo/eval scripts). When
the package is missing, or does not know the repo/version, a documented fallback is
used: ``python -m pip install -e .`` then ``python -m pytest -rA <test files of the
test patch>`` — right for plain pytest projects, not for repos with their own runners
(Django's ``runtests.py``, SymPy's ``bin/test``): install ``swebench`` for those.
The spec's ``source`` field says which one applied.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thinktank.errors import ConfigError, MissingDependency
from thinktank.evals.suites._files import describe_validation, parse_records
from thinktank.evals.task import Task

SWEBENCH_DATASETS = {
    "lite": "princeton-nlp/SWE-bench_Lite",
    "verified": "princeton-nlp/SWE-bench_Verified",
    "full": "princeton-nlp/SWE-bench",
}
"""Short names accepted by :func:`load_swebench` for the hub datasets."""

FALLBACK_TEST_CMD = "python -m pytest -rA"
FALLBACK_INSTALL = "python -m pip install -e ."


class SWEInstance(BaseModel):
    """One SWE-bench instance. Unknown extra fields (e.g. ``difficulty``) are kept."""

    model_config = ConfigDict(extra="allow")

    instance_id: str = Field(min_length=1)
    """``owner__repo-PR``."""
    repo: str = Field(min_length=1)
    """``owner/name`` on GitHub."""
    base_commit: str = Field(min_length=1)
    """The commit the agent starts from."""
    problem_statement: str = Field(min_length=1)
    """The issue text shown to the agent."""
    patch: str = ""
    """The gold patch (a unified diff); empty for test-only inputs."""
    test_patch: str = ""
    """The diff adding or changing the tests that judge the fix."""
    FAIL_TO_PASS: list[str] = Field(default_factory=list)
    """Test ids that must go from failing to passing."""
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    """Test ids that must keep passing."""
    version: str = ""
    """The repo version key of the environment specs."""
    environment_setup_commit: str = ""
    """Commit used to build the environment (often the version's first commit)."""
    hints_text: str = ""
    """Comments on the issue made before the fix."""
    created_at: str = ""
    """When the pull request was created (ISO 8601)."""

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON list of test ids ({exc.msg})") from None
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise ValueError("must be a list of test ids (strings)")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def record(self) -> dict[str, Any]:
        """The instance in the published schema (test lists as JSON strings)."""
        data = self.model_dump()
        data["FAIL_TO_PASS"] = json.dumps(self.FAIL_TO_PASS)
        data["PASS_TO_PASS"] = json.dumps(self.PASS_TO_PASS)
        return data

    def test_files(self) -> list[str]:
        """Files touched by the test patch (the fallback's test directives)."""
        return re.findall(r"^diff --git a/(\S+) b/", self.test_patch, flags=re.M)


class SWESpec(BaseModel):
    """How to prepare the environment and run the tests of one instance."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["swebench", "fallback", "bundled"]
    """Where the commands come from (see the module docstring)."""
    python: str | None = None
    """Python version the repo needs (``"3.9"``), when known."""
    pre_install: list[str] = Field(default_factory=list)
    """Shell commands run before installing (system packages, …)."""
    install: list[str] = Field(default_factory=list)
    """Shell commands that install the repository in the environment."""
    test_cmd: str = FALLBACK_TEST_CMD
    """The test command; test directives are appended to it."""
    test_directives: list[str] = Field(default_factory=list)
    """What to run (files or test ids) for this instance."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables for the test command."""
    env_script: list[str] = Field(default_factory=list)
    """``swebench``'s environment set-up script lines, when available."""
    repo_script: list[str] = Field(default_factory=list)
    """``swebench``'s repository set-up script lines, when available."""
    eval_script: list[str] = Field(default_factory=list)
    """``swebench``'s evaluation script lines, when available."""
    note: str = ""
    """Why a fallback was used, if it was."""

    def test_command(self, tests: Sequence[str] | None = None) -> str:
        """The command that runs ``tests`` (default: the instance's test directives)."""
        chosen = list(tests) if tests is not None else self.test_directives
        return " ".join([self.test_cmd, *chosen]).strip()


def fallback_spec(instance: SWEInstance, note: str = "") -> SWESpec:
    """The pytest fallback used without the ``swebench`` package."""
    return SWESpec(
        source="fallback",
        install=[FALLBACK_INSTALL],
        test_cmd=FALLBACK_TEST_CMD,
        test_directives=instance.test_files(),
        note=note,
    )


def _swebench_scripts(record: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    for module in ("swebench.harness.test_spec.test_spec", "swebench.harness.test_spec"):
        try:
            make_test_spec = importlib.import_module(module).make_test_spec
        except (ImportError, AttributeError):
            continue
        spec = make_test_spec(record)
        return (
            list(getattr(spec, "env_script_list", [])),
            list(getattr(spec, "repo_script_list", [])),
            list(getattr(spec, "eval_script_list", [])),
        )
    return [], [], []


def _swebench_directives(record: dict[str, Any]) -> list[str] | None:
    for module in ("swebench.harness.test_spec.python", "swebench.harness.utils"):
        try:
            fn = importlib.import_module(module).get_test_directives
        except (ImportError, AttributeError):
            continue
        return list(fn(record))
    return None


def swebench_spec(instance: SWEInstance) -> SWESpec:
    """Set-up and test commands from the ``swebench`` package, else :func:`fallback_spec`."""
    try:
        constants = importlib.import_module("swebench.harness.constants")
    except ImportError:
        return fallback_spec(instance, "swebench not installed: pip install 'thinktank[swebench]'")
    table = getattr(constants, "MAP_REPO_VERSION_TO_SPECS", None) or {}
    specs = table.get(instance.repo, {}).get(instance.version)
    if specs is None:
        return fallback_spec(
            instance, f"swebench has no specs for {instance.repo} version {instance.version!r}"
        )
    record = instance.record()
    try:
        env_script, repo_script, eval_script = _swebench_scripts(record)
    except Exception as exc:  # third-party script builders may fail on odd records
        env_script, repo_script, eval_script = [], [], []
        note = f"swebench could not build scripts: {type(exc).__name__}: {exc}"
    else:
        note = ""
    test_cmd = specs.get("test_cmd", FALLBACK_TEST_CMD)
    if isinstance(test_cmd, list):
        test_cmd = " && ".join(test_cmd)
    install = specs.get("install")
    pre_install = specs.get("pre_install") or []
    return SWESpec(
        source="swebench",
        python=str(specs["python"]) if specs.get("python") else None,
        pre_install=list(pre_install),
        install=[install] if isinstance(install, str) else list(install or []),
        test_cmd=test_cmd,
        test_directives=_swebench_directives(record) or instance.test_files(),
        env_script=env_script,
        repo_script=repo_script,
        eval_script=eval_script,
        note=note,
    )


def swe_task(instance: SWEInstance, spec: SWESpec, *, source: str) -> Task:
    """A ``swe`` :class:`Task` carrying the instance record and its spec."""
    return Task(
        id=instance.instance_id,
        kind="swe",
        prompt=instance.problem_statement,
        metadata={
            "instance": instance.record(),
            "spec": spec.model_dump(),
            "source": source,
            "repo": instance.repo,
        },
    )


def _from_hub(name: str, split: str) -> list[SWEInstance]:
    try:
        datasets = importlib.import_module("datasets")
    except ImportError as exc:
        raise MissingDependency(
            "loading SWE-bench from the Hugging Face hub needs the 'datasets' package: "
            "pip install 'thinktank[swebench]' (or pass a .json/.jsonl file in the SWE-bench schema)"
        ) from exc
    rows = datasets.load_dataset(name, split=split)
    out: list[SWEInstance] = []
    for i, row in enumerate(rows, start=1):
        try:
            out.append(SWEInstance.model_validate(dict(row)))
        except ValidationError as exc:
            raise ConfigError(f"{name} row {i}: {describe_validation(exc)}") from None
    return out


def load_swebench_instances(
    source: str | Path = "lite", *, split: str = "test"
) -> list[SWEInstance]:
    """Instances from a JSON/JSONL file or a hub dataset (``lite``, ``verified``, ``full``
    or a full dataset name such as ``princeton-nlp/SWE-bench_Lite``)."""
    path = Path(source)
    if path.suffix in (".json", ".jsonl") or path.exists():
        return parse_records(path, SWEInstance.model_validate)
    name = SWEBENCH_DATASETS.get(str(source).lower(), str(source))
    if "/" not in name:
        valid = ", ".join(SWEBENCH_DATASETS)
        raise ConfigError(
            f"unknown SWE-bench source {str(source)!r}: give a .json/.jsonl file, one of {valid}, "
            "or a dataset name like 'princeton-nlp/SWE-bench_Lite'"
        )
    return _from_hub(name, split)


def load_swebench(
    source: str | Path = "lite",
    *,
    split: str = "test",
    instance_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Task]:
    """SWE-bench instances as ``swe`` tasks, each with its :class:`SWESpec`."""
    instances = load_swebench_instances(source, split=split)
    if instance_ids is not None:
        wanted = set(instance_ids)
        missing = wanted - {i.instance_id for i in instances}
        if missing:
            raise ConfigError(f"instance ids not in {source}: {', '.join(sorted(missing))}")
        instances = [i for i in instances if i.instance_id in wanted]
    if limit is not None:
        instances = instances[:limit]
    label = str(source)
    return [swe_task(i, swebench_spec(i), source=f"swebench:{label}") for i in instances]
