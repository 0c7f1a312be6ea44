"""Bad files: corrupted, foreign, from an older schema (migrated), from a newer one."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from thinktank.memory import MemoryFilter, MemoryItem, SQLiteMemoryBank
from thinktank.memory.errors import CorruptMemoryDatabase, ForeignDatabase, SchemaTooNew


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def test_random_bytes_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    path.write_bytes(os.urandom(8192))
    before, files = _digest(path), _siblings(path)
    with pytest.raises(CorruptMemoryDatabase, match=r"not a SQLite database.*left untouched"):
        SQLiteMemoryBank(path)
    assert _digest(path) == before and _siblings(path) == files


def test_damaged_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096 * 3))
    before = _digest(path)
    with pytest.raises(CorruptMemoryDatabase, match="left untouched"):
        SQLiteMemoryBank(path)
    assert _digest(path) == before


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users(name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(ForeignDatabase, match=r"another application \(tables: users\)"):
        SQLiteMemoryBank(path)
    assert _digest(path) == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorruptMemoryDatabase, match="directory"):
        SQLiteMemoryBank(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    SQLiteMemoryBank(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, '2099-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match=r"v99.*upgrade thinktank"):
        SQLiteMemoryBank(path)


# The first on-disk layout, written out by hand as that version created it.
V1_FIXTURE = """
PRAGMA application_id = 1414221122;
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, '2025-01-01T00:00:00+00:00');
CREATE TABLE items (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', content TEXT NOT NULL, kind TEXT NOT NULL, domain TEXT,
    tags TEXT NOT NULL DEFAULT '[]', provenance TEXT NOT NULL,
    retrieved INTEGER NOT NULL DEFAULT 0, used_in_success INTEGER NOT NULL DEFAULT 0,
    used_in_failure INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL
);
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, description, content, content='items', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, title, description, content)
    VALUES (new.rowid, new.title, new.description, new.content);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, description, content)
    VALUES ('delete', old.rowid, old.title, old.description, old.content);
END;
CREATE TRIGGER items_au AFTER UPDATE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, description, content)
    VALUES ('delete', old.rowid, old.title, old.description, old.content);
    INSERT INTO items_fts(rowid, title, description, content)
    VALUES (new.rowid, new.title, new.description, new.content);
END;
INSERT INTO items (id, title, description, content, kind, domain, tags, provenance,
                   retrieved, used_in_success, used_in_failure, created) VALUES
  ('old1', 'Check the units', 'Physics answers', 'Convert everything to SI units first.',
   'pitfall', 'math', '["physics"]',
   '{"task_id": "t1", "outcome": "failure", "judge": "ground_truth", "run_id": "r1", "created": "2025-01-02T03:04:05Z"}',
   4, 1, 3, '2025-01-02T03:04:05.000000Z'),
  ('old2', 'Search exact phrases', '', 'Quote distinctive phrases when searching the web.',
   'strategy', 'web', '["search", "web"]',
   '{"task_id": "t2", "outcome": "success", "judge": "self_judge", "run_id": null, "created": "2025-01-03T00:00:00Z"}',
   0, 0, 0, '2025-01-03T00:00:00.000000Z');
"""


def test_older_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(V1_FIXTURE)
    conn.close()

    bank = SQLiteMemoryBank(path)
    assert bank.migrated == [2, 3]
    old1 = bank.get_sync("old1")
    assert (old1.usage.retrieved, old1.usage.used_in_success, old1.usage.used_in_failure) == (
        4,
        1,
        3,
    )
    assert old1.provenance.task_id == "t1" and old1.provenance.judge == "ground_truth"
    assert old1.tags == ["physics"] and old1.merged_from == [] and not old1.demoted
    # the rebuilt index serves queries, filters and new writes
    assert bank.retrieve_sync("convert units", k=1, record=False)[0].id == "old1"
    hits = bank.retrieve_sync("phrases", k=5, filters=MemoryFilter(tags=["web"]))
    assert [h.id for h in hits] == ["old2"]
    bank.add_sync(
        [MemoryItem(id="new1", title="Units again", content="Write units next to numbers.")]
    )
    assert {h.id for h in bank.retrieve_sync("units", k=5)} == {"old1", "new1"}
    bank.close()

    again = SQLiteMemoryBank(path)
    assert again.migrated == []
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [1, 2, 3]
    df = dict(conn.execute("SELECT term, df FROM terms"))
    assert df["unit"] == 2 and json.loads(
        conn.execute("SELECT terms FROM items WHERE id='old2'").fetchone()[0]
    )[:2] == ["search", "exact"]
    conn.close()
    again.close()
