"""Shared helpers: locate the final-answer span of a reply and unwrap LaTeX.

Replies mark their final answer in one of a few ways: a ``\\boxed{...}`` (or
``\\fbox{...}``), a line such as ``Answer: 42`` / ``**Final answer:** 42``, or a
phrase such as ``the answer is 42``. :func:`final_segment` returns the text of the
marker that appears *last* in the reply, since models often restate a draft before
settling. Brace matching is done by hand so nested groups
(``\\boxed{\\frac{1}{2}}``) survive.
"""

from __future__ import annotations

import re

_BOX_CMDS = ("\\boxed", "\\fbox")
_OPENS = re.compile(r"[ \t]*\{")  # a group opens here (spaces skipped, as find_braced)

# "Answer: X", "Final answer - X", "**Answer:** X", "ANSWER = X" at a line start.
_ANSWER_LINE = re.compile(
    r"(?im)^[ \t>*#_-]*(?:the[ \t]+)?(?:(?:final|correct)[ \t]+)?answer(?:[ \t]+is)?"
    r"(?:[ \t]*[*_]+)?[ \t]*[:=\-–—]\s*(?:[*_]+[ \t]*)?(?P<ans>.*\S)?"
)
# (each run of blanks can be read one way only: adjacent optional runs of spaces made
# "Answer" followed by a long run of blank lines take cubic time)
# "... the answer is X" anywhere in a sentence (weaker than an answer line).
_ANSWER_PHRASE = re.compile(
    r"(?i)\b(?:(?:final|correct)\s*)?answer\s+(?:is|would\s+be|should\s+be|=)\s*(?::\s*)?(?P<ans>[^\n]+)"
)


def find_braced(text: str, start: int, stop: int | None = None) -> tuple[str, int] | None:
    """The content of the ``{...}`` group opening at or after ``start`` (spaces skipped).

    Returns ``(content, end)`` where ``end`` is the index after the closing brace,
    or ``None`` when there is no group or it is unbalanced (then the rest of the
    text is not trusted as an answer). ``stop``: look for the closing brace only
    before this index.
    """
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth = 0
    for j in range(i, len(text) if stop is None else min(stop, len(text))):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text) and text[j + 1] in "{}":
            continue
        if ch == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif ch == "}" and (j == 0 or text[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
    return None


def last_boxed(text: str) -> tuple[str, int] | None:
    """Content and start position of the last ``\\boxed{}``/``\\fbox{}`` in ``text``."""
    best: tuple[str, int] | None = None
    for cmd in _BOX_CMDS:
        pos, stop = text.rfind(cmd), len(text)
        while pos != -1:
            found = find_braced(text, pos + len(cmd), stop)
            if found is not None:
                if best is None or pos > best[1]:
                    best = (found[0], pos)
                break
            if _OPENS.match(text, pos + len(cmd)):
                # an unclosed group: a group opened before it cannot close after it
                # (depths add up), so earlier boxes are searched only up to here —
                # linear in the reply, where a model looping on "\boxed{" made it quadratic
                stop = pos
            pos = text.rfind(cmd, 0, pos)
    return best


def unbox(text: str) -> str:
    """Remove ``\\boxed{...}`` wrappers, keeping the content (repeatedly)."""
    out = text
    for _ in range(8):
        found = last_boxed(out)
        if found is None:
            return out
        content, pos = found
        cmd_len = len("\\boxed") if out.startswith("\\boxed", pos) else len("\\fbox")
        end = find_braced(out, pos + cmd_len)
        assert end is not None
        out = out[:pos] + content + out[end[1] :]
    return out


def strip_text_commands(text: str) -> str:
    """Replace ``\\text{x}``, ``\\mathrm{x}``, ``\\textbf{x}``, … by ``x``."""
    out = text
    for _ in range(8):
        m = re.search(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*(?=\{)", out)
        if m is None:
            return out
        found = find_braced(out, m.end())
        if found is None:
            return out[: m.start()] + out[m.end() :]
        out = out[: m.start()] + found[0] + out[found[1] :]
    return out


def replace_fracs(text: str) -> str:
    """Rewrite ``\\frac{a}{b}``, ``\\dfrac``, ``\\tfrac`` and ``\\frac12`` as ``(a)/(b)``.

    A whole number directly before a fraction (``2\\frac{1}{2}``) is a mixed
    number and becomes ``2 1/2``, which :mod:`.numbers` reads as 5/2.
    """
    out = text
    for _ in range(16):
        m = re.search(r"\\[dt]?frac\s*", out)
        if m is None:
            return out
        num = find_braced(out, m.end())
        if num is not None:
            den = find_braced(out, num[1])
            if den is None:
                return out
            a, b, end = num[0], den[0], den[1]
        else:
            short = re.match(r"(\d)(\d)", out[m.end() :])
            if short is None:
                return out
            a, b, end = short.group(1), short.group(2), m.end() + 2
        a, b = a.strip(), b.strip()
        simple = re.fullmatch(r"-?\d+(?:\.\d+)?", a) and re.fullmatch(r"\d+(?:\.\d+)?", b)
        piece = f"{a}/{b}" if simple else f"({a})/({b})"
        before = out[: m.start()]
        if simple and re.search(r"\d$", before):
            piece = " " + piece
        out = before + piece + out[end:]
    return out


def clean_latex(text: str) -> str:
    """Light LaTeX clean-up used before reading numbers or short strings."""
    out = unbox(text)
    out = strip_text_commands(out)
    out = replace_fracs(out)
    out = re.sub(r"\\(?:left|right|displaystyle|!|,|;|:|quad|qquad)", " ", out)
    out = out.replace("\\%", "%").replace("\\$", "$").replace("{,}", ",").replace("\\ ", " ")
    out = out.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/")
    out = out.replace("\\pi", "π").replace("\\infty", "∞")
    # Inline math delimiters: $x$, \(x\), \[x\].
    out = re.sub(r"\\[()\[\]]", " ", out)
    out = re.sub(r"(?<!\d)\$(?=\s*[-\d(])|(?<=[\d)}])\$", " ", out)
    return out


def final_segment(text: str) -> str | None:
    """The text of the last final-answer marker in ``text``, or ``None``.

    Markers, in order of strength: ``\\boxed{}`` and answer lines compete by
    position (the later one wins, and a box inside an answer line is unwrapped);
    ``the answer is X`` phrases are used only when neither exists.
    """
    box = last_boxed(text)
    line: tuple[str, int] | None = None
    for m in _ANSWER_LINE.finditer(text):
        if m.group("ans"):
            line = (m.group("ans"), m.start())
    # A box after the start of the last answer line is either inside it
    # ("Answer: \boxed{3}") or later in the reply; its content wins either way.
    if box is not None and (line is None or box[1] > line[1]):
        return box[0].strip()
    if line is not None:
        return unbox(line[0]).strip()
    phrase: str | None = None
    for m in _ANSWER_PHRASE.finditer(text):
        phrase = m.group("ans")
    if not phrase:
        return None
    # A phrase runs to the end of its sentence: "the answer is 4, since ..." → "4".
    phrase = re.split(r"[,;:]\s|\.(?:\s|$)|\s(?:because|since|as)\s", phrase, maxsplit=1)[0]
    # "I wonder what the answer is." names no answer; let callers fall back.
    return unbox(phrase).strip() or None
