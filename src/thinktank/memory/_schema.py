"""On-disk layout of the SQLite memory bank, its migrations, and safe opening.

Schema history (``schema_version`` holds one row per applied version):

* **v1** — ``items`` with the item fields and usage counters; an FTS5 index over
  the raw title/description/content (``porter`` tokenizer).
* **v2** — token columns written by :mod:`thinktank.memory.text` feed a new FTS5
  index (title, description, content, tags) and an exact per-term document
  frequency table ``terms``; ``demoted``, ``merged_from``, ``last_used``,
  ``last_retrieved`` and ``last_active`` columns; an eviction index; the
  ``vectors`` table and a ``meta`` epoch counter that tells readers when vectors changed.
* **v3** — ``documents``: named, versioned text documents kept beside the items (the
  Dynamic-Cheatsheet sheets of :mod:`thinktank.memory.sheets`), updated by
  compare-and-set on their version.

Document frequencies: updates and deletes maintain ``terms`` in triggers; inserts
add theirs in bulk from Python (:func:`count_new_terms`), one upsert per distinct
term of a batch instead of one per term of each item (about 2.5x faster adds).

A new file is created by running every migration from v1, so the upgrade path is
the creation path and stays exercised. Opening never writes to a file that is not
a thinktank memory bank.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from thinktank.memory.errors import CorruptMemoryDatabase, ForeignDatabase, SchemaTooNew
from thinktank.memory.text import terms, unique

APPLICATION_ID = 0x544B4D42  # "TKMB": marks the file as a thinktank memory bank
SCHEMA_VERSION = 3
SQLITE_HEADER = b"SQLite format 3\x00"

# bm25 column weights follow the FTS column order below.
FTS_COLUMNS = ("fts_title", "fts_description", "fts_content", "fts_tags")
EVICTION_ORDER = (
    "demoted DESC, (used_in_success + 1.0) / (used_in_success + used_in_failure + 2.0) ASC, "
    "last_active ASC, rowid ASC"
)

_V1 = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE items (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    domain TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    provenance TEXT NOT NULL,
    retrieved INTEGER NOT NULL DEFAULT 0,
    used_in_success INTEGER NOT NULL DEFAULT 0,
    used_in_failure INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
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
"""

_V2 = """
DROP TRIGGER items_ai;
DROP TRIGGER items_ad;
DROP TRIGGER items_au;
DROP TABLE items_fts;
ALTER TABLE items ADD COLUMN merged_from TEXT NOT NULL DEFAULT '[]';
ALTER TABLE items ADD COLUMN demoted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN last_used TEXT;
ALTER TABLE items ADD COLUMN last_retrieved TEXT;
ALTER TABLE items ADD COLUMN last_active TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN fts_title TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN fts_description TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN fts_content TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN fts_tags TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';
UPDATE items SET last_active = created;
CREATE INDEX items_kind ON items(kind);
CREATE INDEX items_domain ON items(domain);
CREATE INDEX items_evict ON items(
    demoted DESC, ((used_in_success + 1.0) / (used_in_success + used_in_failure + 2.0)), last_active
);
"""

# After the backfill: a fresh index over the token columns, and its triggers.
_V2_INDEX = """
CREATE TABLE terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE vectors (item_rowid INTEGER PRIMARY KEY, model TEXT NOT NULL, vec BLOB NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES ('vectors_epoch', 0);
CREATE TRIGGER vectors_ai AFTER INSERT ON vectors BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'vectors_epoch';
END;
CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'vectors_epoch';
END;
CREATE VIRTUAL TABLE items_fts USING fts5(
    fts_title, fts_description, fts_content, fts_tags,
    content='items', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, fts_title, fts_description, fts_content, fts_tags)
    VALUES (new.rowid, new.fts_title, new.fts_description, new.fts_content, new.fts_tags);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, fts_title, fts_description, fts_content, fts_tags)
    VALUES ('delete', old.rowid, old.fts_title, old.fts_description, old.fts_content, old.fts_tags);
    UPDATE terms SET df = df - 1 WHERE term IN (SELECT value FROM json_each(old.terms));
    DELETE FROM vectors WHERE item_rowid = old.rowid;
END;
CREATE TRIGGER items_au AFTER UPDATE OF fts_title, fts_description, fts_content, fts_tags, terms
ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, fts_title, fts_description, fts_content, fts_tags)
    VALUES ('delete', old.rowid, old.fts_title, old.fts_description, old.fts_content, old.fts_tags);
    INSERT INTO items_fts(rowid, fts_title, fts_description, fts_content, fts_tags)
    VALUES (new.rowid, new.fts_title, new.fts_description, new.fts_content, new.fts_tags);
    UPDATE terms SET df = df - 1 WHERE term IN (SELECT value FROM json_each(old.terms));
    INSERT INTO terms(term, df) SELECT value, 1 FROM json_each(new.terms) WHERE 1
    ON CONFLICT(term) DO UPDATE SET df = df + 1;
    DELETE FROM vectors WHERE item_rowid = old.rowid;
END;
INSERT INTO items_fts(items_fts) VALUES ('rebuild');
INSERT INTO terms(term, df) SELECT value, count(*) FROM items, json_each(items.terms) GROUP BY value;
"""


def token_columns(
    title: str, description: str, content: str, tags: list[str]
) -> tuple[str, str, str, str, str]:
    """FTS token strings of the four indexed fields and the JSON list of unique terms."""
    cols = [terms(title), terms(description), terms(content), terms(" ".join(tags))]
    vocab = unique(t for col in cols for t in col)
    return (*(" ".join(c) for c in cols), json.dumps(vocab))  # type: ignore[return-value]


def count_new_terms(conn: sqlite3.Connection, term_lists: list[str]) -> None:
    """Add the document frequencies of newly inserted items (JSON term lists) to ``terms``."""
    counts = Counter(t for js in term_lists for t in json.loads(js))
    conn.executemany(
        "INSERT INTO terms(term, df) VALUES (?, ?) "
        "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
        list(counts.items()),
    )


def _backfill_v2(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT rowid, title, description, content, tags FROM items").fetchall()
    conn.executemany(
        "UPDATE items SET fts_title=?, fts_description=?, fts_content=?, fts_tags=?, terms=? "
        "WHERE rowid=?",
        [(*token_columns(t, d, c, json.loads(tags or "[]")), rid) for rid, t, d, c, tags in rows],
    )


_V3 = """
CREATE TABLE documents (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""

# version -> steps, run in order: SQL scripts and Python functions
Step = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: dict[int, list[Step]] = {
    1: [_V1],
    2: [_V2, _backfill_v2, _V2_INDEX],
    3: [_V3],
}


def check_file(path: Path) -> bool:
    """True when ``path`` holds data; raises when that data is not a SQLite database."""
    if path.is_dir():
        raise CorruptMemoryDatabase(f"{path} is a directory, not a memory database file")
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise CorruptMemoryDatabase(
            f"{path} is not a SQLite database (corrupted, or another kind of file); "
            "it was left untouched: move it away or choose another path"
        )
    return True


def current_version(conn: sqlite3.Connection, path: Path) -> int:
    """Schema version of an opened file (0 for an empty database), checking it is ours."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise CorruptMemoryDatabase(
            f"{path} cannot be read as a SQLite database ({exc}); it was left untouched"
        ) from exc
    if not tables and app_id == 0:
        return 0
    if app_id != APPLICATION_ID or "schema_version" not in tables:
        raise ForeignDatabase(
            f"{path} is a SQLite database of another application (tables: "
            f"{', '.join(sorted(tables)[:8]) or 'none'}); it was left untouched: "
            "choose another path for the memory bank"
        )
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} has memory schema v{version}, newer than this thinktank's "
            f"v{SCHEMA_VERSION}; upgrade thinktank to open it"
        )
    return int(version)


def migrate(conn: sqlite3.Connection, path: Path) -> list[int]:
    """Bring the schema to :data:`SCHEMA_VERSION` in one write transaction; returns versions applied.

    The version is re-read inside the transaction, so processes opening a new
    file at the same time apply each migration once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = current_version(conn, path)
        applied = []
        if start == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for version in range(start + 1, SCHEMA_VERSION + 1):
            for step in MIGRATIONS[version]:
                if isinstance(step, str):
                    for statement in _statements(step):
                        conn.execute(statement)
                else:
                    step(conn)
            conn.execute(
                "INSERT INTO schema_version(version, applied_at) VALUES (?, ?)",
                (version, datetime.now(UTC).isoformat()),
            )
            applied.append(version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (``executescript`` would commit our transaction)."""
    out, buf = [], ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out
