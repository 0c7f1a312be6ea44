"""Real test logs: the test sections of public repositories' own test suites (pydicom,
astroid, sqlfluff, marshmallow, pytest, SymPy), run here by the harness on SWE-bench
instances with the gold patch and with an empty patch. Each is read with the instance's
``swebench`` parser and graded: gold logs resolve with every listed test as the dataset
says, empty ones do not; the pytest fallback reads the pytest logs exactly as the
official parsers do (ids with brackets, spaces, newlines, non-ASCII)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktank.evals.swe.logs import PASSING, grade, parse_pytest_rA, read_test_log

CORPUS = Path(__file__).parent / "fixtures" / "swe_logs"
INDEX: dict[str, dict] = json.loads((CORPUS / "index.json").read_text(encoding="utf-8"))


def test_the_corpus_spans_repositories_and_both_outcomes() -> None:
    assert len({e["repo"] for e in INDEX.values()}) >= 5
    assert {e["resolved"] for e in INDEX.values()} == {True, False}


@pytest.mark.parametrize("name", sorted(INDEX))
def test_real_logs_grade_as_the_dataset_says(name: str) -> None:
    entry = INDEX[name]
    log = (CORPUS / name).read_text(encoding="utf-8")
    parsed = read_test_log(log, parser=entry["parser"], instance={"repo": entry["repo"]})
    assert parsed.parser == f"swebench:{entry['parser']}" and not parsed.notes
    assert parsed.ran and parsed.exit_code is not None
    g = grade(
        parsed.statuses, entry["FAIL_TO_PASS"], entry["PASS_TO_PASS"], eval_type=entry["eval_type"]
    )
    assert g.resolved == entry["resolved"], g.failing[:5]
    if entry["resolved"]:
        assert all(s in PASSING for s in g.FAIL_TO_PASS.values())
        assert all(s in PASSING or s == "SKIPPED" for s in g.PASS_TO_PASS.values())
    else:
        assert any(s not in PASSING for s in g.FAIL_TO_PASS.values())


@pytest.mark.parametrize(
    "name", sorted(n for n, e in INDEX.items() if e["parser"] != "parse_log_sympy")
)
def test_the_pytest_fallback_reads_real_logs_as_the_official_parsers(name: str) -> None:
    entry = INDEX[name]
    log = (CORPUS / name).read_text(encoding="utf-8")
    official = read_test_log(log, parser=entry["parser"]).statuses
    ours = read_test_log(log, parser=None).statuses
    assert ours == parse_pytest_rA(log.split(">>>>> End Test Output")[0])
    listed = [*entry["FAIL_TO_PASS"], *entry["PASS_TO_PASS"]]
    g_ours = grade(ours, entry["FAIL_TO_PASS"], entry["PASS_TO_PASS"])
    g_official = grade(official, entry["FAIL_TO_PASS"], entry["PASS_TO_PASS"])
    assert g_ours.resolved == g_official.resolved == entry["resolved"]
    assert {t: g_ours.FAIL_TO_PASS.get(t) or g_ours.PASS_TO_PASS.get(t) for t in listed} == {
        t: g_official.FAIL_TO_PASS.get(t) or g_official.PASS_TO_PASS.get(t) for t in listed
    }


@pytest.mark.parametrize("name", sorted(INDEX))
def test_the_official_grading_code_agrees(name: str, tmp_path: Path) -> None:
    # the installed swebench's own grading of the same log: same verdict as ours
    from types import SimpleNamespace

    from swebench.harness.grading import get_eval_report

    entry = INDEX[name]
    iid = name.split(".")[0]
    log = tmp_path / "test_output.txt"
    log.write_text((CORPUS / name).read_text(encoding="utf-8"), encoding="utf-8")
    spec = SimpleNamespace(
        instance_id=iid, repo=entry["repo"], version=entry["version"],
        FAIL_TO_PASS=entry["FAIL_TO_PASS"], PASS_TO_PASS=entry["PASS_TO_PASS"],
    )  # fmt: skip
    prediction = {"instance_id": iid, "model_name_or_path": "m", "model_patch": "diff"}
    official = get_eval_report(spec, prediction, str(log), include_tests_status=False)[iid]
    ours = read_test_log(log.read_text(), parser=entry["parser"])
    g = grade(
        ours.statuses, entry["FAIL_TO_PASS"], entry["PASS_TO_PASS"], eval_type=entry["eval_type"]
    )
    assert official["resolved"] == g.resolved == entry["resolved"]
