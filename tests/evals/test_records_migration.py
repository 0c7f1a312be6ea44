"""Run databases written by schema-1 code open with this version: ``_migrate`` adds
``samples_requested`` and ``refused`` (as 0) to ``results`` and ``retired``, old records
load, new ones append, a retry moves an old error row to ``retired``, and
``run_spent_usd`` is the run's total over its sessions."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from thinktank.evals.reports.report import load_report_data, render_markdown
from thinktank.evals.runs.records import DB_NAME, SCHEMA_VERSION, RunDatabase
from thinktank.evals.runs.run_types import EVALUATION_USAGE, RunConfig, TaskRecord
from thinktank.evals.runs.sweep import expand_graph

# the schema as schema-1 code wrote it (results without samples_requested / refused)
SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    graph TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    answer TEXT,
    expected TEXT,
    correct INTEGER,
    score REAL,
    reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    cost REAL NOT NULL,
    latency_s REAL NOT NULL,
    samples INTEGER NOT NULL,
    sample_correct TEXT,
    attempt INTEGER NOT NULL,
    verdict TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    UNIQUE (graph, task_id)
);
CREATE TABLE IF NOT EXISTS retired AS SELECT * FROM results WHERE 0;
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    stop_reason TEXT,
    spent_usd REAL NOT NULL DEFAULT 0,
    options TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session INTEGER,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
"""
COLUMNS_1 = (
    "graph task_id task_index kind status error answer expected correct score reason "
    "prompt_tokens completion_tokens calls cost latency_s samples sample_correct attempt "
    "verdict result created_at"
).split()
ADDED = ("samples_requested", "refused")

OK_COST, ERROR_COST, RETIRED_COST = 0.0125, 0.0031, 0.0042
JUDGE_COST, INTERRUPTED_COST = 0.0007, 0.0019
RECORDS_TOTAL = OK_COST + ERROR_COST + RETIRED_COST + INTERRUPTED_COST + JUDGE_COST


def config() -> RunConfig:
    return RunConfig(
        suite="tasks.jsonl",
        graphs=[*expand_graph("single"), *expand_graph("best_of_n:n=3")],
        models={"default": "sim"},
        model_specs={"default": "openai:sim@http://127.0.0.1:9/v1"},
        seed=7,
        budget_usd=1.0,
        concurrency=2,
        version="0.9.0",
    )


def _row(**values: object) -> tuple[object, ...]:
    base: dict[str, object] = {
        "graph": "single",
        "task_id": "t0",
        "task_index": 0,
        "kind": "math",
        "status": "ok",
        "error": None,
        "answer": "42",
        "expected": "42",
        "correct": 1,
        "score": 1.0,
        "reason": "exact match",
        "prompt_tokens": 120,
        "completion_tokens": 80,
        "calls": 1,
        "cost": 0.0,
        "latency_s": 0.8,
        "samples": 1,
        "sample_correct": json.dumps([True]),
        "attempt": 1,
        "verdict": None,
        "result": None,
        "created_at": time.time() - 3600,
    }
    base.update(values)
    return tuple(base[c] for c in COLUMNS_1)


def write_schema_1(out: Path) -> Path:
    """A run directory whose records.sqlite is as schema-1 code left it after one session:
    an ok result judged by an LLM, an error result (retried once before), an interrupted job."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / DB_NAME
    cfg = config()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA_1)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO run VALUES (1, ?, ?, ?)",
        (cfg.fingerprint(), cfg.model_dump_json(), time.time() - 7200),
    )
    verdict = {
        "correct": True,
        "score": 1.0,
        "expected": "42",
        "reason": "same number",
        "details": {EVALUATION_USAGE: {"calls": 1, "tokens": 90, "cost": JUDGE_COST}},
    }
    insert = f"INSERT INTO {{}} ({', '.join(COLUMNS_1)}) VALUES ({', '.join('?' * len(COLUMNS_1))})"
    conn.execute(
        insert.format("results"), _row(cost=OK_COST, verdict=json.dumps(verdict), result="{}")
    )
    error = _row(
        task_id="t1",
        task_index=1,
        status="error",
        error="ModelError: the endpoint closed the connection",
        answer=None,
        correct=None,
        score=None,
        reason="",
        cost=ERROR_COST,
        samples=0,
        sample_correct=None,
        attempt=2,
    )
    conn.execute(insert.format("results"), error)
    # its first attempt, retired by the retry that made the row above
    first = dict(zip(COLUMNS_1, error, strict=True)) | {"cost": RETIRED_COST, "attempt": 1}
    conn.execute(
        f"INSERT INTO retired (id, {', '.join(COLUMNS_1)}) "
        f"VALUES (?, {', '.join('?' * len(COLUMNS_1))})",
        (2, *_row(**first)),
    )
    conn.execute(
        "INSERT INTO sessions (started_at, ended_at, status, stop_reason, spent_usd, options) "
        "VALUES (?, ?, 'completed', 'budget', ?, ?)",
        (time.time() - 7000, time.time() - 6000, 0.02, json.dumps({"budget_usd": 0.02})),
    )
    conn.execute(
        "INSERT INTO events (session, at, kind, data) VALUES (1, ?, 'interrupted', ?)",
        (
            time.time() - 6500,
            json.dumps({"graph": "single", "task": "t2", "cost": INTERRUPTED_COST}),
        ),
    )
    conn.close()
    return path


def columns(db: RunDatabase, table: str) -> list[str]:
    return [r[1] for r in db.conn.execute(f"PRAGMA table_info({table})")]


def test_a_schema_1_file_gains_the_new_columns_and_its_records_load(tmp_path: Path) -> None:
    write_schema_1(tmp_path)
    with RunDatabase.open(tmp_path) as db:
        for table in ("results", "retired"):
            cols = columns(db, table)
            assert [c for c in cols if c in ADDED] == list(ADDED), (table, cols)
        (version,) = db.conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == str(SCHEMA_VERSION) == "3"
        assert db.config().fingerprint() == config().fingerprint()
        recs = {r.task_id: r for r in db.records(with_result=True)}
        retired = db.conn.execute("SELECT samples_requested, refused FROM retired").fetchall()
    assert set(recs) == {"t0", "t1"}
    ok, err = recs["t0"], recs["t1"]
    assert (ok.status, ok.answer, ok.correct, ok.cost) == ("ok", "42", True, OK_COST)
    assert ok.samples == 1 and ok.sample_correct == [True]
    assert ok.evaluation_cost == pytest.approx(JUDGE_COST)
    assert (err.status, err.attempt, err.error) == (
        "error",
        2,
        "ModelError: the endpoint closed the connection",
    )
    for r in recs.values():
        assert r.samples_requested == 0 and r.refused == 0 and not r.truncated
    assert retired == [(0, 0)]
    # opening again finds the columns there: the migration runs once and is idempotent
    with RunDatabase.open(tmp_path) as db:
        assert columns(db, "results").count("refused") == 1
        assert db.count() == 2


def test_a_resumed_schema_1_run_appends_and_retries_without_a_column_mismatch(
    tmp_path: Path,
) -> None:
    write_schema_1(tmp_path)
    with RunDatabase.for_run(tmp_path, config(), resume=True) as db:
        # a new record written by schema-2 code, truncated by its graph's budget
        new = TaskRecord(
            graph="best_of_n[n=3]",
            task_id="t0",
            kind="math",
            status="budget_exhausted",
            answer="42",
            expected="42",
            correct=True,
            cost=0.004,
            samples=1,
            samples_requested=3,
            refused=2,
        )
        assert db.append(new)
        assert not db.append(new)  # (graph, task) stays unique
        # the retry of the old error row: the row moves to retired, the new one replaces it
        retry = TaskRecord(
            graph="single",
            task_id="t1",
            task_index=1,
            kind="math",
            status="ok",
            answer="7",
            expected="7",
            correct=True,
            cost=0.002,
            samples=1,
            samples_requested=1,
            attempt=3,
        )
        assert db.append(retry, replace_error=True)
        retired = db.conn.execute(
            "SELECT task_id, status, attempt, cost, samples_requested, refused FROM retired "
            "ORDER BY attempt"
        ).fetchall()
        recs = {(r.graph, r.task_id): r for r in db.records()}
        # a finished row is never replaced, even by a retry
        again = retry.model_copy(update={"answer": "8", "attempt": 4})
        assert not db.append(again, replace_error=True)
    assert retired == [
        ("t1", "error", 1, RETIRED_COST, 0, 0),
        ("t1", "error", 2, ERROR_COST, 0, 0),
    ]
    assert len(recs) == 3
    got = recs[("best_of_n[n=3]", "t0")]
    assert (got.samples, got.samples_requested, got.refused) == (1, 3, 2) and got.truncated
    fixed = recs[("single", "t1")]
    assert (fixed.status, fixed.answer, fixed.attempt, fixed.samples_requested) == ("ok", "7", 3, 1)
    assert recs[("single", "t0")].samples_requested == 0
    # the report reads the migrated file and marks the truncated record
    data = load_report_data(tmp_path, plots=False)
    md = render_markdown(data)
    assert "(truncated)" in md and "truncated by the graph's own budget" in md
    assert "best_of_n[n=3] (1 truncated)" in md


def test_run_spent_usd_counts_every_kind_of_spending_of_a_migrated_run(tmp_path: Path) -> None:
    write_schema_1(tmp_path)
    with RunDatabase.open(tmp_path) as db:
        # results + retired + interrupted jobs (spent_usd) + LLM judging (verdict details)
        assert db.spent_usd() == pytest.approx(
            OK_COST + ERROR_COST + RETIRED_COST + INTERRUPTED_COST
        )
        assert db.run_spent_usd() == pytest.approx(RECORDS_TOTAL)
        assert RECORDS_TOTAL > 0.02  # the finished session reported less: the records win
        # a session still running (killed: ended_at NULL) does not count, however large
        db.conn.execute(
            "INSERT INTO sessions (started_at, status, spent_usd) VALUES (?, 'running', 5.0)",
            (time.time(),),
        )
        assert db.run_spent_usd() == pytest.approx(RECORDS_TOTAL)
        # finished sessions that reported more (a hook's calls are in no record) win
        s = db.start_session({"budget_usd": 1.0})
        db.end_session(s, status="completed", stop_reason="completed", spent_usd=0.015)
        assert db.run_spent_usd() == pytest.approx(0.02 + 0.015)
        # new spending is counted: a new result and another interrupted job
        db.append(TaskRecord(graph="single", task_id="t3", task_index=3, status="ok", cost=0.01))
        db.event(s, "interrupted", graph="single", task="t4", cost=0.003)
        assert db.run_spent_usd() == pytest.approx(RECORDS_TOTAL + 0.013)


def test_a_file_from_a_newer_version_is_refused_not_rewritten(tmp_path: Path) -> None:
    from thinktank.errors import UsageError

    with RunDatabase(tmp_path / DB_NAME) as db:
        db.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("99",))
    with pytest.raises(UsageError, match="newer thinktank"):
        RunDatabase.open(tmp_path)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert row == ("99",)
