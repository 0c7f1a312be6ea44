"""Local corpus search: BM25 over a folder of pages or a JSONL file, with SQLite FTS5.

:meth:`CorpusIndex.open` indexes a source once and reuses the SQLite file while the
source is unchanged (same files, sizes and modification times). Sources:

* a folder of ``.html``/``.htm``, ``.md``/``.markdown`` and ``.txt`` files (searched
  recursively, hidden entries skipped); a document's ``path`` is its relative path;
* a ``.jsonl`` file, one object per line with ``text`` (or ``body``/``content``) and
  optional ``title``, ``url`` and ``id``; its ``path`` is ``doc/<id>``.

Ranking is FTS5's ``bm25`` (title weighted twice the body) with the Porter stemmer;
queries are turned into an OR of their words (stop words dropped), so the best
documents match most terms. :func:`~thinktank.tools.web.serve.serve_corpus` serves
the same index over loopback HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

from pydantic import BaseModel

from thinktank.errors import ConfigError
from thinktank.tools.web._html import plain_text

SCHEMA_VERSION = 1
TEXT_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}
STOPWORDS = frozenset(
    "a an and are as at be by for from has have how in is it its of on or that the this to was "
    "were what when where which who why will with".split()
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, url TEXT,
                   title TEXT NOT NULL, body TEXT NOT NULL, kind TEXT NOT NULL);
CREATE VIRTUAL TABLE docs_fts USING fts5(
    title, body, content='docs', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO docs_fts(docs_fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)');
"""


class Document(BaseModel):
    """One searchable document."""

    path: str
    """Relative path (folder corpora) or ``doc/<id>`` (JSONL); unique in a corpus."""
    title: str
    text: str
    url: str | None = None
    """The document's own URL, if the source gave one."""
    kind: str = "text"
    """``html``, ``markdown`` or ``text``: how the original file is written."""


class CorpusHit(BaseModel):
    """A search result from the index."""

    path: str
    title: str
    snippet: str
    score: float
    """BM25 relevance (higher is better)."""
    url: str | None = None


def default_index_path(source: Path) -> Path:
    """``$THINKTANK_CACHE_DIR`` (or ``$XDG_CACHE_HOME/thinktank``)``/corpus/<hash>.sqlite``."""
    base = os.environ.get("THINKTANK_CACHE_DIR")
    root = (
        Path(base)
        if base
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "thinktank"
    )
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return root / "corpus" / f"{digest}.sqlite"


def _folder_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [
            Path(dirpath, f)
            for f in sorted(filenames)
            if not f.startswith(".") and Path(f).suffix.lower() in TEXT_SUFFIXES
        ]
    return files


def fingerprint(source: Path) -> str:
    """Changes whenever a file of the corpus is added, removed, resized or touched."""
    h = hashlib.sha256(f"v{SCHEMA_VERSION}".encode())
    files = _folder_files(source) if source.is_dir() else [source]
    for f in files:
        st = f.stat()
        h.update(
            f"{f.relative_to(source) if source.is_dir() else f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
        )
    return h.hexdigest()


def read_file(path: Path, rel: str) -> Document:
    """A document from one file of a folder corpus."""
    kind = TEXT_SUFFIXES[path.suffix.lower()]
    raw = path.read_text(encoding="utf-8", errors="replace")
    if kind == "html":
        title, text = plain_text(raw)
    else:
        text = raw
        first = next((line.strip() for line in raw.splitlines() if line.strip()), "")
        title = first.lstrip("#").strip()[:200] if kind == "text" or first.startswith("#") else ""
    return Document(path=rel, title=title or path.stem, text=text, kind=kind)


def load_documents(source: Path) -> Iterator[Document]:
    """Documents of a folder or a JSONL file."""
    if source.is_dir():
        for f in _folder_files(source):
            yield read_file(f, f.relative_to(source).as_posix())
        return
    if source.suffix.lower() != ".jsonl":
        raise ConfigError(f"a corpus is a folder of pages or a .jsonl file, not {source}")
    with source.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}:{n} is not valid JSON ({exc.msg})") from exc
            text = row.get("text") or row.get("body") or row.get("content") or ""
            doc_id = str(row.get("id", n))
            yield Document(
                path=f"doc/{doc_id}",
                title=str(row.get("title") or doc_id),
                text=str(text),
                url=row.get("url"),
            )


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression: the query's words, quoted, joined by OR."""
    words = list(dict.fromkeys(re.findall(r"\w+", query.lower())))
    kept = [w for w in words if w not in STOPWORDS] or words
    return " OR ".join(f'"{w}"' for w in kept[:32]) or None


class CorpusIndex:
    """A BM25 index of documents in one SQLite file (safe to share between threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, source: str | Path, *, index_path: str | Path | None = None) -> CorpusIndex:
        """Index ``source`` (folder or ``.jsonl``), reusing an up-to-date index file."""
        source = Path(source)
        if not source.exists():
            raise ConfigError(f"corpus {source} does not exist")
        target = Path(index_path) if index_path else default_index_path(source)
        stamp = fingerprint(source)
        if target.exists():
            try:
                with closing(sqlite3.connect(target)) as db:
                    row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
                if row and row[0] == stamp:
                    return cls(target)
            except sqlite3.DatabaseError:
                pass  # not an index (or an old one): rebuild
        return cls.build(load_documents(source), target, fingerprint=stamp)

    @classmethod
    def build(
        cls, documents: Iterable[Document], index_path: str | Path, *, fingerprint: str = ""
    ) -> CorpusIndex:
        """Write a fresh index of ``documents``; readers never see a half-built file."""
        target = Path(index_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            # MEMORY, not OFF: a rollback must stay possible or the file is corrupt
            db.executescript("PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF;" + _SCHEMA)
            rows = ((d.path, d.url, d.title, d.text, d.kind) for d in documents)
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO docs(path, url, title, body, kind) VALUES (?,?,?,?,?)",
                    rows,
                )
                db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('rebuild')")
                db.execute(
                    "INSERT INTO meta VALUES ('fingerprint', ?), ('schema', ?)",
                    (fingerprint, str(SCHEMA_VERSION)),
                )
            with db:  # merge index segments: fewer b-trees to read per query
                db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
        except BaseException:
            db.close()
            tmp.unlink(missing_ok=True)
            raise
        db.close()
        os.replace(tmp, target)
        return cls(target)

    def search(self, query: str, limit: int = 10) -> list[CorpusHit]:
        """The ``limit`` best documents for ``query`` by BM25."""
        expression = fts_query(query)
        if expression is None or limit <= 0:
            return []
        sql = (
            "SELECT d.path, d.title, d.url, snippet(docs_fts, 1, '', '', '…', 32), docs_fts.rank "
            "FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid "
            "WHERE docs_fts MATCH ? ORDER BY docs_fts.rank LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (expression, limit)).fetchall()
        return [
            CorpusHit(path=p, title=t, url=u, snippet=re.sub(r"\s+", " ", s).strip(), score=-r)
            for p, t, u, s, r in rows
        ]

    def document(self, path: str) -> Document | None:
        """The stored document at ``path``."""
        with self._lock:
            row = self._db.execute(
                "SELECT path, url, title, body, kind FROM docs WHERE path = ?", (path,)
            ).fetchone()
        return (
            Document(path=row[0], url=row[1], title=row[2], text=row[3], kind=row[4])
            if row
            else None
        )

    def titles(self, limit: int = 1000) -> list[tuple[str, str]]:
        """``(path, title)`` of the first ``limit`` documents by path."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, title FROM docs ORDER BY path LIMIT ?", (limit,)
            ).fetchall()
        return [(str(p), str(t)) for p, t in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def close(self) -> None:
        self._db.close()
