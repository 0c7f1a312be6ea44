"""Memory bank retrieval latency at 100,000 items, and insert throughput.

Builds a SQLite memory bank of synthetic items (a Zipf-distributed vocabulary of
made-up words with the head removed, as stopword removal would), then measures:

* insert throughput of ``add`` in batches (target >= 1,000 items/s), and of
  single-item adds (one transaction each) on a sample;
* ``retrieve(query, k=5)`` latency p50/p99 for short queries (a few words from a
  target item plus noise words) and long ones (a task-prompt-sized query), with
  recall@5 of the target item as a sanity check;
* the same-run baseline: a naive scan that scores every row by how many query words
  it contains (``LIKE``), the obvious implementation without an index.

The result line's ``value`` is the short-query p50 in ms (target <= 10).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, parser, percentile

from thinktank.memory import MemoryItem, Provenance, SQLiteMemoryBank

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
KINDS = ["strategy", "pitfall", "snippet", "insight"]
DOMAINS = ["math", "code", "swe", "web", "science", "general"]


class Corpus:
    """Synthetic items: Zipf-distributed made-up words, the head left out like stopwords."""

    def __init__(self, seed: int, vocab: int = 20_000, head: int = 100) -> None:
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        words: set[str] = set()
        while len(words) < vocab + head:
            words.add("".join(self.rng.choices(SYLLABLES, k=self.rng.randint(2, 4))))
        ranked = sorted(words)
        self.rng.shuffle(ranked)
        self.words = np.array(ranked[head:])
        weights = 1.0 / (np.arange(len(self.words)) + 1 + head)
        self.p = weights / weights.sum()
        self.tags = [f"tag{i}" for i in range(200)]

    def text(self, n: int) -> str:
        return " ".join(self.words[self.np.choice(len(self.words), size=n, p=self.p)])

    def items(self, start: int, stop: int) -> list[MemoryItem]:
        n = stop - start
        idx = self.np.choice(len(self.words), size=(n, 51), p=self.p)
        out = []
        for row, i in zip(idx, range(start, stop), strict=True):
            w = self.words[row]
            out.append(
                MemoryItem(
                    id=f"b{i:07d}",
                    title=" ".join(w[:6]),
                    description=" ".join(w[6:21]),
                    content=" ".join(w[21:]),
                    kind=KINDS[i % 4],  # type: ignore[arg-type]
                    domain=DOMAINS[i % 6],
                    tags=[self.tags[i % 200], self.tags[(i * 7 + 3) % 200]],
                    provenance=Provenance(task_id=f"t{i}", outcome="success", judge="ground_truth"),
                )
            )
        return out

    def query(self, target: MemoryItem, noise: int) -> str:
        own = (target.title + " " + target.content).split()
        return " ".join(self.rng.sample(own, min(5, len(own))) + self.text(noise).split())


def naive_scan(conn: sqlite3.Connection, query: str, k: int) -> list[str]:
    words = list(dict.fromkeys(query.lower().split()))[:12]
    score = " + ".join(
        "(lower(title || ' ' || description || ' ' || content) LIKE ?)" for _ in words
    )
    sql = f"SELECT id, {score} AS s FROM items ORDER BY s DESC LIMIT ?"
    return [r[0] for r in conn.execute(sql, [f"%{w}%" for w in words] + [k])]


async def build(bank: SQLiteMemoryBank, corpus: Corpus, n: int, batch: int) -> float:
    """Seconds spent in ``add`` (item generation excluded)."""
    spent = 0.0
    for start in range(0, n, batch):
        items = corpus.items(start, min(n, start + batch))
        t0 = time.perf_counter()
        await bank.add(items)
        spent += time.perf_counter() - t0
    return spent


async def main() -> None:
    args = parser(__doc__ or "").parse_args()
    n = 100_000
    queries = 300 if args.quick else 2_000
    baseline_queries = 5 if args.quick else 40
    singles = 200 if args.quick else 2_000
    corpus = Corpus(seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        bank = SQLiteMemoryBank(Path(tmp) / "bench.sqlite", max_items=None)
        build_s = await build(bank, corpus, n, batch=1_000)
        inserts_per_s = n / build_s

        # single-item adds: one transaction each (the slowest way to write)
        extra = corpus.items(n, n + singles)
        t0 = time.perf_counter()
        for item in extra:
            await bank.add([item])
        single_per_s = singles / (time.perf_counter() - t0)

        rng = random.Random(2)
        targets = [await bank.get(f"b{rng.randrange(n):07d}") for _ in range(queries)]
        short = [corpus.query(t, noise=4) for t in targets]
        long = [corpus.query(t, noise=55) for t in targets[: queries // 3]]
        for q in short[:20]:  # warm the page cache
            await bank.retrieve(q, k=5, record=False)

        def timed(qs: list[str]) -> tuple[list[float], list[list[str]]]:
            lat, hits = [], []
            for q in qs:
                t = time.perf_counter()
                got = bank.retrieve_sync(q, k=5)
                lat.append((time.perf_counter() - t) * 1000)
                hits.append([h.id for h in got])
            return lat, hits

        short_ms, short_hits = timed(short)
        long_ms, long_hits = timed(long)
        recall = sum(t.id in h for t, h in zip(targets, short_hits, strict=True)) / len(short)
        recall_long = sum(t.id in h for t, h in zip(targets, long_hits, strict=False)) / len(long)

        conn = sqlite3.connect(bank.path)
        base_ms = []
        base_hits = 0
        for t, q in zip(targets[:baseline_queries], short[:baseline_queries], strict=True):
            t1 = time.perf_counter()
            got = naive_scan(conn, q, 5)
            base_ms.append((time.perf_counter() - t1) * 1000)
            base_hits += t.id in got
        conn.close()
        size_mb = bank.path.stat().st_size / 1e6
        bank.close()

    p50, p99 = percentile(short_ms, 0.5), percentile(short_ms, 0.99)
    base = percentile(base_ms, 0.5)
    print(
        f"items={n} build={build_s:.1f}s ({inserts_per_s:.0f}/s, batches of 1000), "
        f"single adds {single_per_s:.0f}/s, db {size_mb:.0f} MB"
    )
    print(f"short queries: p50 {p50:.2f} ms, p99 {p99:.2f} ms, recall@5 {recall:.3f}")
    print(
        f"long queries (~60 words): p50 {percentile(long_ms, 0.5):.2f} ms, "
        f"p99 {percentile(long_ms, 0.99):.2f} ms, recall@5 {recall_long:.3f}"
    )
    print(f"naive LIKE scan: p50 {base:.1f} ms, recall@5 {base_hits / len(base_ms):.3f}")
    emit(
        "memory_retrieval",
        metric="retrieve_p50",
        value=p50,
        unit="ms",
        baseline=base,
        ratio=p50 / base,
        target=10,
        ok=p50 <= 10 and inserts_per_s >= 1_000,
        items=n,
        p99_ms=round(p99, 3),
        long_query_p50_ms=round(percentile(long_ms, 0.5), 3),
        long_query_p99_ms=round(percentile(long_ms, 0.99), 3),
        recall_at_5=round(recall, 3),
        inserts_per_s=round(inserts_per_s),
        single_inserts_per_s=round(single_per_s),
        insert_target=1_000,
        quick=args.quick,
    )


if __name__ == "__main__":
    asyncio.run(main())
