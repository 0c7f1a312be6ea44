"""Near-duplicate detection for consolidation: MinHash + LSH, verified by exact Jaccard.

Items are compared on the token set (stemmed, stopwords dropped) of title and
content, only against items of the same kind and domain. MinHash signatures
(64 permutations) are banded (16 bands of 4 rows) to find candidate pairs in about
linear time; each candidate pair is then checked with the exact Jaccard index, so
the threshold is exact and LSH only decides which pairs are looked at. Pairs over
the threshold are joined into clusters (union-find): each cluster becomes one item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinktank.memory.text import jaccard, stable_hash, terms

_PERMUTATIONS = 64
_BANDS = 16
_ROWS = _PERMUTATIONS // _BANDS
# h(x) = (a·x + b) mod p over 32-bit token hashes, p the first prime above 2^32:
# a·x < 2^64 cannot overflow uint64, and the reduction wraps many times (good mixing).
_PRIME = np.uint64(4294967311)
_rng = np.random.default_rng(20240611)  # fixed: signatures are comparable across runs
_A = _rng.integers(1, 1 << 32, size=_PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, 1 << 32, size=_PERMUTATIONS, dtype=np.uint64)
_EXACT_BELOW = 400  # groups this small are compared pairwise, without LSH


@dataclass
class DedupRecord:
    """What duplicate detection needs to know about one item."""

    id: str
    kind: str
    domain: str | None
    text: str
    successes: int = 0
    failures: int = 0
    uses: int = 0
    created: str = ""

    def rank_key(self) -> tuple[float, int, str]:
        """Sort key of the member kept when a cluster merges (best first)."""
        rate = (self.successes + 1.0) / (self.successes + self.failures + 2.0)
        return (-rate, -self.uses, self.created)


def token_set(text: str) -> set[str]:
    return set(terms(text))


def minhash(tokens: set[str]) -> np.ndarray:
    """A 64-value MinHash signature of a token set."""
    if not tokens:
        return np.full(_PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    h = np.fromiter((stable_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    return ((np.outer(h, _A) % _PRIME + _B) % _PRIME).min(axis=0)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _candidate_pairs(sets: Sequence[set[str]]) -> set[tuple[int, int]]:
    n = len(sets)
    if n <= _EXACT_BELOW:
        return {(i, j) for i in range(n) for j in range(i + 1, n)}
    sigs = [minhash(s) for s in sets]
    pairs: set[tuple[int, int]] = set()
    for band in range(_BANDS):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        lo = band * _ROWS
        for i, sig in enumerate(sigs):
            if sets[i]:
                buckets[sig[lo : lo + _ROWS].tobytes()].append(i)
        for members in buckets.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    pairs.add((members[x], members[y]))
    return pairs


def find_duplicates(records: Sequence[DedupRecord], threshold: float) -> list[list[DedupRecord]]:
    """Clusters of near-duplicates (two or more members, best member first)."""
    groups: dict[tuple[str, str | None], list[DedupRecord]] = defaultdict(list)
    for r in records:
        groups[(r.kind, r.domain)].append(r)
    clusters: list[list[DedupRecord]] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        sets = [token_set(m.text) for m in members]
        uf = _UnionFind(len(members))
        for i, j in _candidate_pairs(sets):
            if sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold:
                uf.union(i, j)
        by_root: dict[int, list[DedupRecord]] = defaultdict(list)
        for i, m in enumerate(members):
            by_root[uf.find(i)].append(m)
        clusters.extend(sorted(c, key=DedupRecord.rank_key) for c in by_root.values() if len(c) > 1)
    return clusters
