"""Multiple-choice answers: find the chosen option letter in a reply.

Recognised forms (case-insensitive; the letter is returned upper-case):
``Answer: (C)``, ``Answer: C``, ``**Answer:** c)``, ``\\boxed{C}``,
``\\boxed{\\text{(C)}}``, ``the answer is c``, ``the correct option is (B).``,
``Option D``, and — when the options' texts are given — the text of an option
(``Answer: Paris`` → ``B`` when option B is "Paris").

A bare article is not a choice: "the answer is a tricky one" gives nothing, while
"the answer is a." or "the answer is (a)" give ``A``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from thinktank.graphs.answers.latex import final_segment, strip_text_commands, unbox
from thinktank.graphs.answers.text import normalize_text

DEFAULT_LETTERS = "ABCDEFGHIJ"
"""Option letters accepted when the caller gives none (up to ten options)."""


def _letters_class(letters: str) -> str:
    return "".join(sorted(set(letters.upper() + letters.lower())))


def _letter_in_segment(segment: str, letters: str) -> str | None:
    """A segment that *is* a choice: "C", "(C)", "C)", "C.", "option C", "C: Paris"."""
    s = strip_text_commands(unbox(segment)).strip().strip("*_`'\"$ ").strip()
    cls = _letters_class(letters)
    m = re.fullmatch(
        rf"(?:(?:the\s+)?(?:option|choice|letter)\s*)?"
        rf"(?:[\[(](?P<b>[{cls}])[\])].*"
        rf"|(?P<l>[{cls}])(?:[.:)]\s*.*|\s+(?:because|since|as|is|which|[-–—:])(?:\s.*)?|\s*))",
        s,
        flags=re.IGNORECASE | re.DOTALL,
    )
    if m is None:
        return None
    return (m.group("b") or m.group("l")).upper()


def _match_option_text(segment: str, options: Mapping[str, str]) -> str | None:
    target = normalize_text(segment)
    if not target:
        return None
    hits = [k for k, v in options.items() if normalize_text(v) == target]
    return hits[0].upper() if len(hits) == 1 else None


def extract_choice(
    text: str,
    *,
    letters: str | Sequence[str] = DEFAULT_LETTERS,
    options: Mapping[str, str] | None = None,
) -> str | None:
    """The option letter a reply chose, upper-case, or ``None``.

    ``letters`` limits the valid letters (e.g. ``"ABCD"``); ``options`` maps letters
    to option texts so an answer written as the option's text is mapped back.
    Looks at the final-answer marker first; without one, at "answer is X" /
    "option X" phrases and finally a reply that is only a letter.
    """
    valid = "".join(letters).upper()
    if options:
        keys = {k.upper() for k in options}
        valid = "".join(sorted(keys if valid == DEFAULT_LETTERS else set(valid) | keys))
    segment = final_segment(text)
    if segment is not None:
        letter = _letter_in_segment(segment, valid)
        if letter is not None:
            return letter
        if options:
            return _match_option_text(segment, options)
        return None
    cls = _letters_class(valid)
    found: str | None = None
    for m in re.finditer(
        rf"(?i)\b(?:answer|option|choice)\s*(?:(?:is|:|=)\s*)?(?:option\s+|choice\s+)?"
        rf"[\[(]?([{cls}])\b[\])]?(?=\s*(?:[.,;!)]|$|\n|is\b))",
        text,
    ):
        found = m.group(1).upper()
    if found is not None:
        return found
    whole = _letter_in_segment(text.strip(), valid) if len(text.strip()) <= 6 else None
    if whole is not None:
        return whole
    if options:
        return _match_option_text(text.strip(), options)
    return None


def canonical_choice(text: str, *, letters: str | Sequence[str] = DEFAULT_LETTERS) -> str | None:
    """The voting key of a multiple-choice reply: its letter, or ``None``."""
    return extract_choice(text, letters=letters)


def format_options(options: Mapping[str, str] | Sequence[str]) -> str:
    """Render options as ``(A) text`` lines, for prompts."""
    items = (
        list(options.items())
        if isinstance(options, Mapping)
        else [(DEFAULT_LETTERS[i], v) for i, v in enumerate(options)]
    )
    return "\n".join(f"({k.upper()}) {v}" for k, v in items)
