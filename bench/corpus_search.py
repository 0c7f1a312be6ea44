"""BM25 search over 100,000 synthetic documents: query p50 and index build time.

Documents are pseudo-words drawn from a Zipf-distributed vocabulary (titles of
5 words, bodies of 40-120), so term frequencies look like natural text. The
index is built with :meth:`CorpusIndex.build` (SQLite FTS5, Porter stemmer) and
queried through :meth:`CorpusIndex.search` with 2-4-word queries mixing common
and rare words (top 10, snippets included).

Baseline, same run, same table: a naive ranked scan without an index -- every
row tested with ``LIKE '%word%'`` per query word and ranked by the number of
words it contains (what one would write without FTS). ``ratio`` = FTS p50 /
baseline p50. Target: p50 <= 20 ms. ``--quick`` uses fewer queries, the same
100,000 documents.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import emit, parser, percentile

from thinktank.tools.web.corpus import CorpusIndex, Document

DOCS = 100_000
TARGET_MS = 20.0


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = "ka lo mi ne su ta ri po ve da zu fi go he ju wa xe yo qu bi".split()
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def documents(rng: random.Random, vocab: list[str], n: int) -> Iterator[Document]:
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocab))]
    lengths = [rng.randint(40, 120) for _ in range(n)]
    words = rng.choices(vocab, weights=weights, k=sum(lengths) + 5 * n)
    at = 0
    for i, length in enumerate(lengths):
        title = " ".join(words[at : at + 5])
        body = " ".join(words[at + 5 : at + 5 + length])
        at += 5 + length
        yield Document(path=f"doc/{i}", title=title, text=body)


def queries(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    return [
        " ".join(rng.choice(vocab[20:5000]) for _ in range(rng.randint(2, 4))) for _ in range(n)
    ]


def timed(fn: Callable[[str], object], items: list[str]) -> list[float]:
    out = []
    for q in items:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def naive_scan(db: sqlite3.Connection, query: str) -> list[int]:
    words = query.split()
    score = " + ".join("(body LIKE ?)" for _ in words)
    where = " OR ".join("body LIKE ?" for _ in words)
    patterns = [f"%{w}%" for w in words]
    sql = f"SELECT id, {score} AS s FROM docs WHERE {where} ORDER BY s DESC LIMIT 10"
    return [row[0] for row in db.execute(sql, patterns + patterns)]


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n_queries, n_baseline = (150, 12) if args.quick else (1000, 40)
    rng = random.Random(7)
    vocab = vocabulary(rng, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.sqlite"
        docs = list(documents(rng, vocab, DOCS))  # generated outside the build timing
        t0 = time.perf_counter()
        index = CorpusIndex.build(docs, path)
        build_s = time.perf_counter() - t0
        qs = queries(rng, vocab, n_queries)
        timed(lambda q: index.search(q, 10), qs[:20])  # warm the page cache
        fts = timed(lambda q: index.search(q, 10), qs)
        db = sqlite3.connect(path)
        naive = timed(lambda q: naive_scan(db, q), qs[:n_baseline])
        db.close()
        size_mb = path.stat().st_size / 1e6
        index.close()
    p50, p95 = percentile(fts, 0.5), percentile(fts, 0.95)
    base = percentile(naive, 0.5)
    print(f"{DOCS:,} docs indexed in {build_s:.1f} s ({size_mb:.0f} MB); {n_queries} queries")
    print(f"FTS5 bm25 top-10: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(f"baseline (ranked LIKE scan, no index, {n_baseline} queries): p50 {base:.1f} ms")
    emit(
        "corpus_search",
        metric="query_p50",
        value=p50,
        unit="ms",
        baseline=base,
        ratio=p50 / base,
        target=TARGET_MS,
        ok=p50 <= TARGET_MS,
        p95_ms=round(p95, 3),
        build_s=round(build_s, 2),
        docs=DOCS,
    )


if __name__ == "__main__":
    main()
