"""Text normalisation shared by indexing, queries and duplicate detection.

Index and query go through the same :func:`terms`: Unicode-folded, lower-cased
alphanumeric words, English stopwords dropped, and a light suffix stemmer so
``retry``, ``retries``, ``retried`` and ``retrying`` meet. Because tokens are made
here (not by an SQLite tokenizer), the store can keep exact per-term document
frequencies next to the FTS5 index and user text can never form an FTS5 operator.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during
    each either else etc even ever every few for from further get gets got had has have
    having he her here hers herself him himself his how however i if in into is it its
    itself just let like may me might more most much must my myself neither no nor not
    now of off often on once one only or other otherwise our ours ourselves out over own
    per rather same shall she should since so some such than that the their theirs them
    themselves then there these they this those though through thus to too under until
    up upon us very via was we were what whatever when whenever where whether which while
    who whom whose why will with within without would yet you your yours yourself
    yourselves
    """.split()
)

_VOWELS = set("aeiouy")


def fold(text: str) -> str:
    """Case-fold and strip diacritics (``Café`` → ``cafe``)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """Folded alphanumeric words of ``text`` in order (underscores split words)."""
    return _WORD.findall(fold(text))


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English suffix stemmer (plurals, ``-ed``, ``-ing``, final ``e``).

    Cruder than Porter but stable: ``retry/retries/retried/retrying`` → ``retry``,
    ``update/updated/updating`` → ``updat``. Index and query share it, so only
    consistency matters.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("ss", "us", "is")):
        pass
    elif word.endswith("s"):
        word = word[:-1]
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    for suffix, min_len in (("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= min_len:
            base = word[: -len(suffix)]
            if not _VOWELS.intersection(base):
                return word
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            word = base
            break
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


_TERM_CACHE: dict[str, str] = {}
_TERM_CACHE_MAX = 1 << 18


def _term(word: str) -> str:
    """The index term of one folded word ('' for a stopword or a one-character word)."""
    term = "" if word in STOPWORDS or len(word) <= 1 else stem(word)
    if len(_TERM_CACHE) < _TERM_CACHE_MAX:
        _TERM_CACHE[word] = term
    return term


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Index/query terms of ``text`` in order (stemmed, stopwords dropped unless kept)."""
    if keep_stopwords:
        return [stem(w) for w in words(text)]
    get = _TERM_CACHE.get
    out = []
    for w in words(text):
        t = get(w)
        if t is None:
            t = _term(w)
        if t:
            out.append(t)
    return out


def unique(seq: Iterable[str]) -> list[str]:
    """Items of ``seq`` without repeats, first occurrence order."""
    return list(dict.fromkeys(seq))


def stable_hash(token: str) -> int:
    """A 32-bit hash that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(token.encode("utf-8"))


def jaccard(a: set[str], b: set[str]) -> float:
    """Token-set Jaccard similarity (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
