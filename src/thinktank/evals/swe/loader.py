"""SWE-bench (Lite / Verified / full) instances as tasks.

Sources: a ``.json`` / ``.jsonl`` file in the SWE-bench instance schema, or a
dataset on the Hugging Face hub through the ``datasets`` package (imported lazily;
``pip install 'thinktank[swebench]'``). ``FAIL_TO_PASS`` / ``PASS_TO_PASS`` may be
JSON strings (as in the published datasets) or lists.

Environment set-up and test commands: :class:`SWESpec`, built by
:func:`thinktank.evals.swe.specs.swebench_spec` from the instance's own evaluation
script (``swebench`` 5 datasets), the ``swebench`` package's tables (``swebench`` 4),
or a documented pytest fallback; its ``source`` and ``note`` fields say which.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError, MissingDependency
from thinktank.evals.tasks.suites.files import describe_validation, parse_records
from thinktank.evals.tasks.task import Task

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


class SWESpec(StrictModel):
    """How to build the environment of one instance and run its tests.

    Built by :func:`thinktank.evals.swe.specs.swebench_spec` from, in this order, what
    the instance carries (datasets made by ``swebench`` 5 hold their own
    ``eval_script``, ``log_parser`` and ``image``), the ``swebench`` package's
    per-repository tables (``swebench`` 4: Python version, packages, install and test
    commands), or the documented pytest fallback. ``source`` and ``note`` say which.
    """

    source: Literal["swebench", "instance", "fallback", "bundled"]
    """Where the commands come from: the ``swebench`` package's tables, the instance's own
    ``eval_script``, the pytest fallback, or a bundled instance."""
    python: str | None = None
    """Python version the repo needs (``"3.9"``), when known."""
    packages: str = ""
    """The environment's packages: ``requirements.txt`` (the repo's requirement files),
    ``environment.yml``, or a space-separated list of package specs."""
    pip_packages: list[str] = Field(default_factory=list)
    """Extra pip requirements installed into the environment (pinned versions)."""
    requirements_paths: list[str] = Field(default_factory=list)
    """Where ``packages: requirements.txt`` finds the repo's requirement files."""
    env_yml_paths: list[str] = Field(default_factory=list)
    """Where ``packages: environment.yml`` finds the repo's conda environment file."""
    pre_install: list[str] = Field(default_factory=list)
    """Shell commands run before installing (system packages, …)."""
    install: list[str] = Field(default_factory=list)
    """Shell commands that install the repository in the environment (run again after
    the patch is applied, as the official harness does)."""
    test_cmd: str = FALLBACK_TEST_CMD
    """The test command; test directives are appended to it."""
    test_directives: list[str] = Field(default_factory=list)
    """What to run (files or test ids) for this instance."""
    eval_commands: list[str] = Field(default_factory=list)
    """Shell lines run before the tests (exports, locale set-up)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables for the test command."""
    eval_script: list[str] = Field(default_factory=list)
    """The instance's own evaluation script (``swebench`` 5 datasets), line by line; empty
    when the script is made from the fields above."""
    log_parser: str | None = None
    """Name of the ``swebench`` log parser for the test output (``parse_log_pytest``, …);
    ``None``: pytest ``-rA`` output."""
    eval_type: Literal["pass_and_fail", "fail_only"] = "pass_and_fail"
    """How statuses are graded (``fail_only``: only failing tests are reported)."""
    image: str | None = None
    """The official evaluation image's name, when the instance carries it."""
    swebench_version: str | None = None
    """The ``swebench`` package version the spec was read from."""
    note: str = ""
    """Why a fallback was used, or anything else the user should know."""

    def test_command(self, tests: Sequence[str] | None = None) -> str:
        """The command that runs ``tests`` (default: the instance's test directives)."""
        chosen = list(tests) if tests is not None else self.test_directives
        return " ".join([self.test_cmd, *chosen]).strip()


def fallback_spec(instance: SWEInstance, note: str = "") -> SWESpec:
    """The pytest fallback used when nothing better is known."""
    return SWESpec(
        source="fallback",
        install=[FALLBACK_INSTALL],
        test_cmd=FALLBACK_TEST_CMD,
        test_directives=instance.test_files(),
        note=note,
    )


def swebench_spec(instance: SWEInstance) -> SWESpec:
    """The instance's :class:`SWESpec` (see :func:`thinktank.evals.swe.specs.swebench_spec`)."""
    from thinktank.evals.swe.specs import swebench_spec as resolve

    return resolve(instance)


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
    if path.suffix in (".json", ".jsonl", ".parquet") or path.exists():
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
