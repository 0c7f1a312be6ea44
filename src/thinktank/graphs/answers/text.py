"""Short free-text answers: extraction and normalisation.

:func:`normalize_text` makes spellings that a reader would call "the same answer"
identical: Unicode compatibility forms folded (NFKC), case folded, accents
removed, punctuation dropped, the articles *a*, *an*, *the* removed, whitespace
collapsed. So ``"The Eiffel Tower."`` and ``"eiffel  tower"`` both become
``"eiffel tower"``. Numbers keep their digits; ``"1,000"`` becomes ``"1000"``.

:func:`token_f1` is the usual bag-of-tokens F1 between two normalised answers,
useful for partial credit on web QA.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from thinktank.graphs.answers.latex import final_segment, strip_text_commands, unbox

ARTICLES = frozenset({"a", "an", "the"})
"""Words removed by :func:`normalize_text`."""

_QUOTES = "\"'`“”‘’«»„"


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _is_punct(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat.startswith("P") or (cat.startswith("S") and ch not in "%$€£¥+<>=°")


def normalize_text(text: str, *, drop_articles: bool = True) -> str:
    """Canonical form of a short answer (see the module docstring)."""
    s = unicodedata.normalize("NFKC", text)
    s = strip_text_commands(unbox(s))
    s = _strip_accents(s).casefold()
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,000 -> 1000
    s = re.sub(r"(?<=\d)\.(?=\d)", "\x00", s)  # keep decimal points
    s = "".join(" " if _is_punct(ch) else ch for ch in s).replace("\x00", ".")
    words = s.split()
    if drop_articles:
        # An answer that is only an article ("A") keeps it.
        words = [w for w in words if w not in ARTICLES] or words
    return " ".join(words)


def clean_answer_text(text: str) -> str:
    """Trim the decoration models put around a short answer (bold, quotes, final period)."""
    s = strip_text_commands(unbox(text)).strip()
    for _ in range(3):  # decorations nest: **"Oslo".** → Oslo
        before = s
        s = s.rstrip(".!;,").strip().strip("*_").strip()
        if len(s) >= 2 and s[0] in _QUOTES and s[-1] in _QUOTES:
            s = s[1:-1].strip()
        if s == before:
            break
    return s


FALLBACK_MAX_WORDS = 12
"""A reply without a final-answer marker counts as an answer only if its last line is
this short; a longer line is reasoning (e.g. "I could not settle on a result."),
and treating it as an answer would let identical non-answers win a vote."""


def extract_text(text: str, *, fallback_last_line: bool = True) -> str | None:
    """The final short answer of a reply, decoration removed.

    The final-answer marker wins; without one, the last non-empty line (when
    ``fallback_last_line`` and it has at most :data:`FALLBACK_MAX_WORDS` words).
    Returns ``None`` when there is no answer.
    """
    segment = final_segment(text)
    if segment is None:
        if not fallback_last_line:
            return None
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        if not lines or len(lines[-1].split()) > FALLBACK_MAX_WORDS:
            return None
        segment = lines[-1]
    cleaned = clean_answer_text(segment)
    return cleaned or None


def canonical_text(text: str, *, fallback_last_line: bool = True) -> str | None:
    """The voting key of a short-answer reply: the normalised final answer."""
    answer = extract_text(text, fallback_last_line=fallback_last_line)
    if answer is None:
        return None
    norm = normalize_text(answer)
    return norm or None


def text_equal(a: str, b: str, *, aliases: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``a`` equals ``b`` (or one of ``aliases``) after normalisation."""
    left = normalize_text(a)
    return bool(left) and any(left == normalize_text(x) for x in (b, *aliases))


def token_f1(prediction: str, reference: str) -> float:
    """Bag-of-tokens F1 between the normalised prediction and reference (0..1)."""
    pred = normalize_text(prediction).split()
    ref = normalize_text(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)
