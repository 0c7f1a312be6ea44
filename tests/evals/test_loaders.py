"""Loaders parse small fixture files in each public schema; bad files name line and field."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from thinktank.errors import ConfigError, MissingDependency
from thinktank.evals import evaluate
from thinktank.evals.swe.loader import (
    SWEInstance,
    load_swebench,
    load_swebench_instances,
    swebench_spec,
)
from thinktank.evals.swe.specs import swebench_module
from thinktank.evals.tasks.evaluators import NumericConfig, StringConfig
from thinktank.evals.tasks.suites import load_suite
from thinktank.evals.tasks.suites.loaders import (
    detect_format,
    load_gaia,
    load_humaneval,
    load_math,
    load_mbpp,
    load_task_file,
)

FIX = Path(__file__).parent / "fixtures"


# --- SWE-bench --------------------------------------------------------------------


@pytest.fixture
def no_swebench(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(sys.modules):
        if name == "swebench" or name.startswith("swebench."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "swebench", None)  # import fails like a missing package
    monkeypatch.setitem(sys.modules, "swebench.harness", None)
    monkeypatch.setitem(sys.modules, "swebench.harness.constants", None)
    swebench_module.cache_clear()
    yield
    swebench_module.cache_clear()


def _instance(**fields: Any) -> SWEInstance:
    """An instance of a public repository (made-up issue; the repository decides the spec)."""
    base = {
        "instance_id": "pydicom__pydicom-1",
        "repo": "pydicom/pydicom",
        "base_commit": "a" * 40,
        "problem_statement": "from_json drops values",
        "version": "2.2",
        "test_patch": "diff --git a/pydicom/tests/test_json.py b/pydicom/tests/test_json.py\n",
    }
    return SWEInstance.model_validate({**base, **fields})


def test_swebench_jsonl_with_json_string_lists(no_swebench: None) -> None:
    tasks = load_swebench(FIX / "swebench_lite.jsonl")
    assert [t.id for t in tasks] == ["example-org__calc-101", "example-org__calc-102"]
    t = tasks[0]
    assert t.kind == "swe" and t.prompt.startswith("half() truncates")
    inst = SWEInstance.model_validate(t.metadata["instance"])
    assert inst.FAIL_TO_PASS == ["tests/test_ops.py::test_odd"]
    assert t.metadata["instance"]["FAIL_TO_PASS"] == '["tests/test_ops.py::test_odd"]'
    spec = t.metadata["spec"]
    assert spec["source"] == "fallback" and "swebench is not installed" in spec["note"]
    assert spec["test_directives"] == ["tests/test_ops.py"]
    assert spec["install"] == ["python -m pip install -e ."]
    second = SWEInstance.model_validate(tasks[1].metadata["instance"])
    assert second.version == "2.0" and second.model_extra == {"difficulty": "<15 min fix"}


def test_swebench_json_list_and_filters(no_swebench: None) -> None:
    inst = load_swebench_instances(FIX / "swebench_verified.json")
    assert inst[0].PASS_TO_PASS == ["tests/test_ops.py::test_even"]
    only = load_swebench(FIX / "swebench_lite.jsonl", instance_ids=["example-org__calc-102"])
    assert [t.id for t in only] == ["example-org__calc-102"]
    assert len(load_swebench(FIX / "swebench_lite.jsonl", limit=1)) == 1
    with pytest.raises(ConfigError, match="not in"):
        load_swebench(FIX / "swebench_lite.jsonl", instance_ids=["nope"])


def test_swebench_spec_from_the_installed_swebench_package() -> None:
    # the real package (swebench 4: its per-repository tables), no stand-in
    import swebench.harness.constants as constants

    table = constants.MAP_REPO_VERSION_TO_SPECS["pydicom/pydicom"]["2.2"]
    spec = swebench_spec(_instance())
    assert spec.source == "swebench" and spec.swebench_version == version("swebench")
    assert spec.python == str(table["python"]) and spec.test_cmd == table["test_cmd"]
    assert spec.install == [table["install"]]
    assert spec.packages == table.get("packages", "")
    assert spec.pip_packages == list(table.get("pip_packages", []))
    assert spec.test_directives == ["pydicom/tests/test_json.py"]
    parsers = importlib.import_module("swebench.harness.log_parsers").MAP_REPO_TO_PARSER
    assert spec.log_parser == parsers["pydicom/pydicom"].__name__ and spec.eval_script == []
    django = swebench_spec(
        _instance(instance_id="django__django-1", repo="django/django", version="4.2")
    )
    assert django.packages == "requirements.txt"
    assert django.requirements_paths == constants.MAP_REPO_TO_REQS_PATHS["django/django"]
    assert django.log_parser == parsers["django/django"].__name__
    unknown = swebench_spec(_instance(version="0.0.1"))
    assert (
        unknown.source == "fallback"
        and "no specification for pydicom/pydicom version" in unknown.note
    )
    other = swebench_spec(_instance(repo="example-org/calc"))
    assert other.source == "fallback" and "no specification for the repository" in other.note


def test_an_instance_carrying_its_eval_script_is_run_as_it_is() -> None:
    script = "#!/bin/bash\nset -uxo pipefail\nsource /opt/miniconda3/bin/activate\npytest -rA x.py"
    spec = swebench_spec(
        _instance(
            eval_script=script,
            log_parser="parse_log_pytest_v2",
            eval_type="fail_only",
            image="swebench/sweb.eval.x86_64.pydicom_1776_pydicom-1:latest",
        )
    )
    assert spec.source == "instance" and spec.python is not None  # environment from the tables
    assert spec.eval_script == ["source /opt/miniconda3/bin/activate", "pytest -rA x.py"]
    assert spec.log_parser == "parse_log_pytest_v2" and spec.eval_type == "fail_only"
    assert spec.image == "swebench/sweb.eval.x86_64.pydicom_1776_pydicom-1:latest"


def test_swebench_parquet_files_load(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIX / "swebench_lite.jsonl").read_text().splitlines()]
    for r in rows:
        r["version"] = str(r["version"])
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "lite.parquet")
    tasks = load_suite(str(tmp_path / "lite.parquet"))
    assert [t.id for t in tasks] == ["example-org__calc-101", "example-org__calc-102"]
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ConfigError, match=r"bad\.parquet: not a readable Parquet file"):
        load_suite(str(tmp_path / "bad.parquet"))


def test_swebench_hub_needs_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependency, match=r"thinktank\[swebench\]"):
        load_swebench("lite")
    with pytest.raises(ConfigError, match="lite, verified, full"):
        load_swebench("nonsense")


def test_swebench_malformed_files_name_line_and_field() -> None:
    with pytest.raises(
        ConfigError, match=r"swebench_missing_field.jsonl line 2: field 'problem_statement'"
    ):
        load_swebench(FIX / "swebench_missing_field.jsonl")
    with pytest.raises(ConfigError, match=r"line 1: field 'FAIL_TO_PASS': .*JSON list"):
        load_swebench(FIX / "swebench_bad_tests.jsonl")


# --- GAIA -------------------------------------------------------------------------


async def test_gaia() -> None:
    tasks = load_gaia(FIX / "gaia.jsonl")
    assert [t.kind for t in tasks] == ["web"] * 3
    numeric, with_file, hidden = tasks
    assert isinstance(numeric.evaluator, NumericConfig) and numeric.expected == "17"
    assert (await evaluate(numeric, "There are 17.0 of them.\nAnswer: 17")).correct
    assert isinstance(with_file.evaluator, StringConfig) and with_file.metadata["level"] == 2
    assert "archive.pdf" in with_file.prompt and with_file.metadata["file_name"] == "archive.pdf"
    assert hidden.expected is None and hidden.metadata["answer_hidden"]
    lower = load_gaia(FIX / "gaia_lowercase.jsonl")[0]
    assert lower.id == "q1" and lower.expected == "Brackenford"


# --- HumanEval / MBPP -------------------------------------------------------------


def test_humaneval_and_mbpp() -> None:
    he = load_humaneval(FIX / "humaneval.jsonl")
    assert [t.id for t in he] == ["Fixture/0", "Fixture/1"]
    assert he[0].metadata["entry_point"] == "double" and "def double" in he[0].prompt
    mb = load_mbpp(FIX / "mbpp.jsonl")
    assert [t.id for t in mb] == ["mbpp/901", "mbpp/902"]
    assert "assert sum_squares([1, 2]) == 5" in mb[0].prompt
    assert "rev_words('') == ''" in mb[1].metadata["test"]  # challenge tests stay hidden
    assert "rev_words('') == ''" not in mb[1].prompt
    assert mb[1].metadata["test_setup"] == "import re"
    with pytest.raises(ConfigError, match=r"humaneval_missing_test.jsonl line 2: field 'test'"):
        load_humaneval(FIX / "humaneval_missing_test.jsonl")


# --- AIME / MATH ------------------------------------------------------------------


async def test_aime_and_math() -> None:
    aime = load_math(FIX / "aime.jsonl", source="aime")
    assert [t.expected for t in aime] == ["14", "81"]
    assert aime[0].metadata["year"] == 2031 and isinstance(aime[0].evaluator, NumericConfig)
    assert (await evaluate(aime[1], "\\boxed{081}")).correct
    maths = load_math(FIX / "math.jsonl")
    assert [t.expected for t in maths] == ["\\frac{5}{6}", "2\\sqrt{2}", "3"]
    assert maths[0].id == "fixture/prealgebra/1.json" and maths[2].id == "math-3"
    assert isinstance(maths[0].evaluator, NumericConfig)
    assert isinstance(maths[1].evaluator, StringConfig)
    assert (await evaluate(maths[0], "Answer: 5/6")).correct
    assert (await evaluate(maths[1], "\\boxed{2\\sqrt{2}}")).correct
    assert maths[0].metadata["type"] == "Prealgebra"
    with pytest.raises(ConfigError, match=r"math_no_answer.jsonl line 2: .*'answer'"):
        load_math(FIX / "math_no_answer.jsonl")
    with pytest.raises(ConfigError, match=r"bad_json.jsonl line 3: invalid JSON"):
        load_math(FIX / "bad_json.jsonl")


async def test_gsm8k_answers_are_the_number_after_the_hashes() -> None:
    """GSM8K keeps a worked solution in ``answer`` and the final number after ``####``:
    the task expects that number (thousands separators dropped), never the whole text."""
    tasks = load_task_file(FIX / "gsm8k.jsonl")  # recognised as math by its fields
    assert [t.expected for t in tasks] == ["16", "2500", "-12"]
    assert all(isinstance(t.evaluator, NumericConfig) for t in tasks)
    assert tasks[0].metadata["solution"].endswith("<<36-20=16>>16 left.")
    assert "####" not in tasks[1].metadata["solution"]
    assert (await evaluate(tasks[1], "The farm makes $2,500.\nAnswer: 2500")).correct
    assert not (await evaluate(tasks[0], "Answer: 36")).correct


def test_gzipped_task_files_read_as_the_plain_ones(tmp_path: Path) -> None:
    """HumanEval ships as ``HumanEval.jsonl.gz``: a ``.gz`` file is read through gzip; a
    gzip file without the suffix, or a broken one, gets an error that says so."""
    import gzip

    plain = FIX / "humaneval.jsonl"
    packed = tmp_path / "HumanEval.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_suite(str(packed)) == load_suite(str(plain))
    unnamed = tmp_path / "HumanEval.jsonl"
    unnamed.write_bytes(packed.read_bytes())
    with pytest.raises(ConfigError, match=r"not UTF-8 text .*name it \.gz"):
        load_suite(str(unnamed))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_text("not gzip")
    with pytest.raises(ConfigError, match=r"broken\.jsonl\.gz: not a readable gzip file"):
        load_suite(str(broken))


# --- generic task files -----------------------------------------------------------


def test_task_files_and_format_detection(no_swebench: None) -> None:
    tasks = load_suite(str(FIX / "tasks.jsonl"))
    assert [t.kind for t in tasks] == ["math", "choice", "text"]
    with pytest.raises(ConfigError, match=r"tasks_bad_field.jsonl line 2: field 'kind'"):
        load_task_file(FIX / "tasks_bad_field.jsonl")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        load_task_file(FIX / "unknown_format.jsonl")
    with pytest.raises(ConfigError, match="does not exist"):
        load_task_file(FIX / "missing.jsonl")
    expected = {
        "swebench_lite.jsonl": "swebench",
        "gaia.jsonl": "gaia",
        "humaneval.jsonl": "humaneval",
        "mbpp.jsonl": "mbpp",
        "aime.jsonl": "math",
        "tasks.jsonl": "task",
    }
    for name, fmt in expected.items():
        first = (FIX / name).read_text().splitlines()[0]

        assert detect_format(json.loads(first)) == fmt, name
        assert load_task_file(FIX / name)  # loads through auto-detection
    assert len(load_task_file(FIX / "aime.jsonl", format="math")) == 2
    with pytest.raises(ConfigError, match="unknown task file format"):
        load_task_file(FIX / "aime.jsonl", format="csv")


def test_reading_specs_leaves_the_root_logger_alone() -> None:
    import logging

    # swebench 4 configures the root logger when imported; in a fresh interpreter (pytest's
    # own log handlers would hide it here) the root logger is as it was
    import subprocess

    code = (
        "import logging, json\n"
        "from thinktank.evals.swe.specs import swebench_module\n"
        "assert swebench_module('harness.constants') is not None\n"
        "root = logging.getLogger()\n"
        "print(json.dumps([root.level, len(root.handlers)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [logging.WARNING, 0]
