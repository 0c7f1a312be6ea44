"""SWE-bench grading without Docker: log parsers (the installed ``swebench``'s and the pytest
fallback), the official resolution rules, evaluation scripts, official image names,
environment requirements, predictions in the official format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.swe.build_wheels import (
    _conda_to_pip,
    build_requirements,
    environment_requirements,
)
from thinktank.evals.swe.envs import official_image, resolve_mode
from thinktank.evals.swe.loader import SWEInstance, SWESpec
from thinktank.evals.swe.logs import grade, parse_pytest_rA, read_test_log
from thinktank.evals.swe.predictions import (
    Prediction,
    instance_report,
    read_predictions,
    run_report,
    write_predictions,
)
from thinktank.evals.swe.scripts import HEREDOC, TEST_PATCH_FAILED, Layout, eval_script

PYTEST_LOG = """\
============================= test session starts ==============================
collected 9 items

tests/test_x.py ..F.sx.                                                  [100%]
=========================== short test summary info ============================
PASSED tests/test_x.py::test_a
PASSED tests/test_x.py::test_b[a b]
PASSED tests/test_x.py::test_ü[ö-ß]
FAILED tests/test_x.py::test_d[x - y] - AssertionError: boom - z
FAILED tests/test_x.py::T::test_e - assert 1 == 2
ERROR tests/test_y.py - ImportError: no module
SKIPPED [1] tests/test_x.py:12: needs a network
SKIPPED tests/test_x.py::test_s
XFAIL tests/test_x.py::test_f - reason
XPASS tests/test_x.py::test_g
========= 2 failed, 4 passed, 1 skipped, 1 xfailed, 1 xpassed in 0.12s =========
"""


def test_pytest_fallback_reads_ids_with_spaces_brackets_and_any_script() -> None:
    import swebench.harness.log_parsers.python as parsers

    got = parse_pytest_rA(PYTEST_LOG)
    assert got == {
        "tests/test_x.py::test_a": "PASSED",
        "tests/test_x.py::test_b[a": "PASSED",  # as the official parser cuts it
        "tests/test_x.py::test_b[a b]": "PASSED",  # and whole
        "tests/test_x.py::test_ü[ö-ß]": "PASSED",
        "tests/test_x.py::test_d[x": "FAILED",
        "tests/test_x.py::test_d[x - y]": "FAILED",
        "tests/test_x.py::T::test_e": "FAILED",
        "tests/test_y.py": "ERROR",
        "tests/test_x.py::test_s": "SKIPPED",
        "tests/test_x.py::test_f": "XFAIL",
    }
    # every status the installed official parser reads, the fallback reads the same
    official = parsers.parse_log_pytest(PYTEST_LOG, None)
    assert {k: v for k, v in official.items() if not k.startswith("[")} == {
        k: v for k, v in got.items() if k in official
    }


def test_the_installed_swebench_parsers_are_used_by_name() -> None:
    import swebench.harness.log_parsers.python as parsers

    log = f">>>>> Start Test Output\n{PYTEST_LOG}>>>>> End Test Output\n>>>>> Test Exit Code: 1\n"
    parsed = read_test_log(log, parser="parse_log_pytest", instance={"instance_id": "x"})
    official = parsers.parse_log_pytest(PYTEST_LOG, None)
    assert parsed.parser == "swebench:parse_log_pytest" and parsed.statuses == official
    assert parsed.ran and parsed.exit_code == 1
    # a parser the installed package lacks: the fallback, and the result says so
    other = read_test_log(log, parser="parse_log_nonesuch")
    assert other.parser == "pytest-rA" and "parse_log_nonesuch" in other.notes[0]
    assert other.statuses["tests/test_x.py::test_b[a b]"] == "PASSED"
    # markers missing: the script did not reach the end of the tests
    assert not read_test_log(PYTEST_LOG, parser=None).ran


def test_django_and_sympy_logs_through_the_real_parsers() -> None:
    django = (
        "test_a (model_fields.tests.BasicTests) ... ok\n"
        "test_b (model_fields.tests.BasicTests)\nA docstring. ... FAIL\n"
        "test_c (model_fields.tests.BasicTests) ... skipped 'no db'\n"
    )
    got = read_test_log(
        f">>>>> Start Test Output\n{django}>>>>> End Test Output\n", parser="parse_log_django"
    ).statuses
    assert got["test_a (model_fields.tests.BasicTests)"] == "PASSED"
    assert got["test_c (model_fields.tests.BasicTests)"] == "SKIPPED"
    sympy = "test_one ok\ntest_two F\ntest_three E\n"
    got = read_test_log(sympy, parser="parse_log_sympy").statuses
    assert got == {"test_one": "PASSED", "test_two": "FAILED", "test_three": "ERROR"}


def test_official_resolution_rules() -> None:
    statuses = {
        "t::f1": "PASSED",
        "t::f2": "XFAIL",
        "t::p1": "PASSED",
        "t::p2": "SKIPPED",
        "t::cut[a b]": "PASSED",
    }
    ok = grade(statuses, ["t::f1", "t::f2", "t::cut[a"], ["t::p1", "t::p2"])
    assert ok.resolved and ok.passed == ok.total == 5
    # a skipped FAIL_TO_PASS test is not a fix; a missing test fails
    bad = grade(statuses, ["t::p2", "t::gone"], ["t::p1"])
    assert not bad.resolved and bad.failing == ["t::p2", "t::gone"]
    assert bad.FAIL_TO_PASS["t::gone"] == "MISSING"
    # fail_only: anything not reported as failing counts
    assert grade({"t::x": "ERROR"}, ["t::x", "t::gone"], [], eval_type="fail_only").resolved
    assert not grade({"t::x": "FAILED"}, ["t::x"], [], eval_type="fail_only").resolved


def _inst(**kw: object) -> SWEInstance:
    test_patch = "diff --git a/t/test_a.py b/t/test_a.py\n--- a/t/test_a.py\n+++ b/t/test_a.py\n@@ -0,0 +1 @@\n+x = 1\n"
    data = {
        "instance_id": "o__r-1",
        "repo": "o/r",
        "base_commit": "b" * 40,
        "problem_statement": "p",
        "test_patch": test_patch,
        "FAIL_TO_PASS": ["t/test_a.py::test_x"],
    }
    data.update(kw)
    return SWEInstance.model_validate(data)


def test_generated_eval_script_follows_the_official_shape() -> None:
    inst = _inst()
    spec = SWESpec(
        source="swebench",
        install=["python -m pip install -e ."],
        test_cmd="pytest -rA",
        test_directives=["t/test_a.py"],
        eval_commands=["export LANG=en_US.UTF-8"],
    )
    layout = Layout("/work/repo", ("export PATH=/opt/testbed/bin:$PATH",))
    script = eval_script(inst, spec, layout, base="c" * 40)
    lines = script.splitlines()
    assert lines[:2] == ["exec 2>&1", "set -uxo pipefail"]
    assert "export PATH=/opt/testbed/bin:$PATH" in lines
    order = [
        "export LANG=en_US.UTF-8",
        "python -m pip install -e .",
        f"git apply -v - <<'{HEREDOC}'",
        ": '>>>>> Start Test Output'",
        "pytest -rA t/test_a.py",
        "THINKTANK_TEST_EXIT=$?",
        ": '>>>>> End Test Output'",
        'echo ">>>>> Test Exit Code: $THINKTANK_TEST_EXIT"',
    ]
    assert [lines.index(x) for x in order] == sorted(lines.index(x) for x in order)
    assert f"[ $? -eq 0 ] || echo '{TEST_PATCH_FAILED}'" in lines
    assert any(f"git checkout {'c' * 40} -- t/test_a.py" in ln for ln in lines)
    assert "b" * 40 not in script  # the sandbox's own base commit is used


def test_carried_eval_scripts_run_unchanged_in_official_images_and_translated_elsewhere() -> None:
    base = "b" * 40
    carried = [
        "source /opt/miniconda3/bin/activate",
        "conda activate testbed",
        "cd /testbed",
        "git show",
        f"git checkout {base} t/test_a.py",
        ": '>>>>> Start Test Output'",
        "pytest -rA t/test_a.py",
        ": '>>>>> End Test Output'",
    ]
    spec = SWESpec(source="instance", eval_script=carried)
    official = eval_script(_inst(), spec, Layout("/testbed", (), official=True), base=base)
    assert official.splitlines()[2:5] == carried[:3]
    built = eval_script(
        _inst(), spec, Layout("/work/repo", ("export PATH=/v/bin:$PATH",)), base="c" * 40
    )
    assert "conda" not in built and "export PATH=/v/bin:$PATH" in built
    assert "cd /work/repo" in built and f"git checkout {'c' * 40} t/test_a.py" in built
    assert "git show" not in built and "git show" in official  # a snapshot is all one commit


def test_official_image_names_and_modes() -> None:
    assert (
        official_image("pydicom__pydicom-1458")
        == "swebench/sweb.eval.x86_64.pydicom_1776_pydicom-1458:latest"
    )
    mirror = "Registry.local:5000/swe/sweb.eval.{arch}.{id}:v2"
    assert (
        official_image("a__B-1", mirror, "arm64")
        == "registry.local:5000/swe/sweb.eval.arm64.a_1776_b-1:v2"
    )
    assert resolve_mode("auto", specified=False) == "clone"
    assert resolve_mode("auto", specified=True) == "build"
    assert resolve_mode("official", specified=False) == "official"


def test_environment_requirements_from_specs(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.txt").write_text(
        "# tools\n-r base.txt\n-e .\npytest>=6\ntypes-pkg_resources==0.1.3\n"
    )
    (tmp_path / "requirements" / "base.txt").write_text("click\n")
    (tmp_path / "environment.yml").write_text(
        "name: x\ndependencies:\n  - python=3.9\n  - numpy=1.19\n  - conda-forge::scipy>=1.5\n"
        "  - pip\n  - pip:\n    - hypothesis==6.0\n"
    )
    reqs, warnings = environment_requirements(
        SWESpec(source="swebench", packages="requirements.txt",
                requirements_paths=["requirements/dev.txt", "missing.txt"],
                pip_packages=["attrs==23.1"]),
        tmp_path,
    )  # fmt: skip
    # includes inlined, the repository itself left out, a package gone from PyPI replaced
    assert reqs == ["click", "pytest>=6", "types-setuptools", "attrs==23.1"] and not warnings
    reqs, warnings = environment_requirements(
        SWESpec(source="swebench", packages="environment.yml", env_yml_paths=["environment.yml"]),
        tmp_path,
    )  # fmt: skip
    assert reqs == ["numpy==1.19.*", "scipy>=1.5", "hypothesis==6.0"]
    assert "best effort" in warnings[0]
    reqs, _ = environment_requirements(
        SWESpec(source="swebench", packages="numpy 'scipy==1.5.2' python=3.9"),
        tmp_path,
    )  # fmt: skip
    assert reqs == ["numpy", "scipy==1.5.2"]
    assert _conda_to_pip("numpy=1.19.2") == "numpy==1.19.2.*" and _conda_to_pip("pip") is None
    assert build_requirements(tmp_path) == ["setuptools>=40.8.0", "wheel"]
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=45", "setuptools_scm[toml]>=6.2"]\n'
    )
    assert build_requirements(tmp_path)[:2] == ["setuptools>=45", "setuptools_scm[toml]>=6.2"]


def test_predictions_both_ways(tmp_path: Path) -> None:
    preds = [
        Prediction(
            instance_id="a__b-1", model_name_or_path="m", model_patch="diff --git a/x b/x\n"
        ),
        Prediction(instance_id="a__b-2", model_name_or_path="m", model_patch=None),
    ]
    path = write_predictions(preds, tmp_path / "preds.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[1] == {"instance_id": "a__b-2", "model_name_or_path": "m", "model_patch": None}
    assert read_predictions(path) == preds
    (tmp_path / "p.json").write_text(json.dumps({p.instance_id: p.model_dump() for p in preds}))
    assert [p.instance_id for p in read_predictions(tmp_path / "p.json")] == ["a__b-1", "a__b-2"]
    (tmp_path / "bad.jsonl").write_text('{"instance_id": "x"}\n{"instance_id": \n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2:.*not JSON"):
        read_predictions(tmp_path / "bad.jsonl")
    row = '{"instance_id": "x", "model_name_or_path": "m", "model_patch": ""}\n'
    (tmp_path / "twice.jsonl").write_text(row + row)
    with pytest.raises(ConfigError, match="predicted twice"):
        read_predictions(tmp_path / "twice.jsonl")
    (tmp_path / "noid.jsonl").write_text('{"model_patch": "x"}\n')
    with pytest.raises(ConfigError, match="prediction 1: instance_id"):
        read_predictions(tmp_path / "noid.jsonl")
    # a misspelled key is not an empty patch
    (tmp_path / "typo.jsonl").write_text(
        '{"instance_id": "x", "model_name_or_path": "m", "patch": "d"}\n'
    )
    with pytest.raises(ConfigError, match="prediction 1: model_patch"):
        read_predictions(tmp_path / "typo.jsonl")
    (tmp_path / "none.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="holds no predictions"):
        read_predictions(tmp_path / "none.jsonl")


def test_official_report_fields() -> None:
    from thinktank.evals.tasks.evaluators.base import Verdict

    pred = Prediction(instance_id="a__b-1", model_name_or_path="m", model_patch="diff")
    verdict = Verdict.of(
        True,
        details={
            "apply_method": "git apply",
            "FAIL_TO_PASS": {"t::f": "PASSED"},
            "PASS_TO_PASS": {"t::p": "SKIPPED", "t::q": "FAILED"},
        },
    )
    entry = instance_report(verdict, pred)
    assert entry["patch_exists"] and entry["patch_successfully_applied"] and entry["resolved"]
    assert entry["tests_status"]["PASS_TO_PASS"] == {"success": ["t::p"], "failure": ["t::q"]}
    none = Prediction(instance_id="a__b-2", model_name_or_path="m", model_patch=None)
    broken = Prediction(instance_id="a__b-3", model_name_or_path="m", model_patch="diff")
    report = run_report(
        ["a__b-1", "a__b-2", "a__b-3", "a__b-4"],
        [pred, none, broken],
        {
            "a__b-1": entry,
            "a__b-2": instance_report(None, none),
            "a__b-3": instance_report(None, broken, error="InfrastructureError: x"),
        },
    )
    assert report["resolved_ids"] == ["a__b-1"] and report["error_ids"] == ["a__b-3"]
    assert report["empty_patch_ids"] == ["a__b-2"] and report["incomplete_ids"] == ["a__b-4"]
    assert report["total_instances"] == 4 and report["submitted_instances"] == 3
    assert report["completed_instances"] == 1 and report["unresolved_instances"] == 0
    # a patch that does not apply is an error instance, as the official harness has it
    refused = Verdict.of(False, reason="patch does not apply: x", details={"apply_method": None})
    assert instance_report(refused, broken)["error"] == "patch does not apply: x"
