"""A run directory written by an earlier version (schema 2: the fixture in
``fixtures/run_schema2``) opens with this one: its records, run results and verdicts
load as typed objects, its report is the same, and ``eval --resume`` with the same
settings finds every task done."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.evals.reports.report import load_report_data, render_markdown
from thinktank.evals.reports.viewer import render_run
from thinktank.evals.runs.records import SCHEMA_VERSION, RunDatabase
from thinktank.llm.simulator import SimulatorConfig, SimulatorServer

FIXTURE = Path(__file__).parent / "fixtures" / "run_schema2"
GRAPHS = ["single", "best_of_n:n=3,select=verifier", "ceo:critics=1,rounds=2", "tight"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    conn = sqlite3.connect(out / "records.sqlite")
    conn.executescript(gzip.decompress((FIXTURE / "records.sql.gz").read_bytes()).decode())
    conn.close()
    (out / "run.json").write_text((FIXTURE / "run.json").read_text())
    return out


def test_the_records_load_with_their_results_and_verdicts(run_dir: Path) -> None:
    with RunDatabase.open(run_dir) as db:
        (version,) = db.conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        assert int(version) == SCHEMA_VERSION
        records = db.records(with_result=True)
    assert len(records) == 16
    assert {r.graph for r in records} == set(GRAPHS)
    by = {(r.graph, r.task_id): r for r in records}
    for rec in records:
        result, verdict = rec.result, rec.verdict
        assert result is not None and verdict is not None, (rec.graph, rec.task_id)
        assert result.answer == rec.answer and result.status == rec.status
        assert verdict.correct == rec.correct
        assert result.samples == rec.samples and result.refused == rec.refused
        assert result.truncated == rec.truncated
    verified = by[("best_of_n:n=3,select=verifier", "math-001")].result
    assert len(verified.verifications) == 3 and len(verified.candidates) == 3
    ceo = by[("ceo:critics=1,rounds=2", "math-001")].result
    assert ceo.status == "max_rounds" and ceo.rounds == 2
    # the simulator's CEO replies are not decisions: each round records that
    assert [e.kind for e in ceo.trace.events].count("decision_missing") == 2
    tight = by[("tight", "math-001")]
    assert tight.truncated and tight.samples == 1 and tight.samples_requested == 4
    assert tight.result.refusing_budgets == {"task math-001"}


def test_the_report_is_what_the_writing_version_made(run_dir: Path) -> None:
    data = load_report_data(run_dir, plots=False)
    text = render_markdown(data).replace(f"`{run_dir}`", "`RUN`")
    expected = (FIXTURE / "report.md").read_text()

    def sections(md: str) -> dict[str, list[str]]:  # heading → its table rows, items, notes
        out: dict[str, list[str]] = {}
        head = ""
        for line in md.splitlines():
            if line.startswith("#"):
                head = line
            elif line.startswith(("|", "- ", "> ")):
                out.setdefault(head, []).append(line)
        return out

    now, then = sections(text), sections(expected)
    assert {h: now[h] for h in then} == then  # every section of then, as it was
    assert set(now) - set(then) == {"## Selection"}  # what this version adds
    rec = next(r for r in data.records if r.graph == "ceo:critics=1,rounds=2")
    with RunDatabase.open(run_dir) as db:
        result = db.result(rec.graph, rec.task_id)
    assert result is not None
    html = render_run("r0", rec, result)
    assert "ceo" in html and rec.task_id in html


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with SimulatorServer(SimulatorConfig(default_reply="Answer: 1")) as server:
        yield f"openai:sim@{server.base_url}"


def test_resume_with_the_same_settings_finds_every_task_done(run_dir: Path, sim: str) -> None:
    res = CliRunner().invoke(
        app,
        [
            "eval", "--suite", "math", "--limit", "4", "--graph", "single",
            "--graph", "best_of_n:n=3,select=verifier", "--graph", "ceo:critics=1,rounds=2",
            "--graph", str(FIXTURE / "tight.yaml"), "--model", sim, "--out", str(run_dir),
            "-c", "2", "--seed", "1", "--resume",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "0 recorded, 16 already done" in " ".join(res.output.split())
