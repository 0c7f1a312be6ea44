"""Word n-gram shingles for the verbatim-copy guard (:class:`~thinktank.learning.learn.VerbatimGuard`).

Text is compared as the store's folded alphanumeric words
(:func:`thinktank.memory.text.words`: case, diacritics, punctuation and spacing
ignored; no stemming, stopwords kept), hashed with CRC-32 so a guard is the same in
every process.
"""

from __future__ import annotations

import zlib

from thinktank.memory.text import words


def _hash(gram: list[str]) -> int:
    return zlib.crc32(" ".join(gram).encode("utf-8"))


def shingles(text: str, n: int) -> set[int]:
    """Hashes of the word ``n``-grams of ``text``."""
    w = words(text)
    return {_hash(w[i : i + n]) for i in range(len(w) - n + 1)}


def longest_shared_run(text: str, corpus_shingles: set[int], n: int) -> int:
    """Length in words of the longest run of ``text`` whose ``n``-grams all occur in the corpus.

    0 when no ``n``-gram of ``text`` occurs there; otherwise at least ``n``.
    """
    w = words(text)
    best = run = 0
    for i in range(len(w) - n + 1):
        if _hash(w[i : i + n]) in corpus_shingles:
            run = run + 1 if run else n
            best = max(best, run)
        else:
            run = 0
    return best
