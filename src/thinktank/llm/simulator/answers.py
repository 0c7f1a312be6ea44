"""Answer text helpers of the synthetic mode: normalise, extract, perturb.

These define what the simulator *reads* from prompts (a candidate answer to
verify, numbered candidates for a judge) and how it compares answers. They are
deliberately simple; the framework's own answer extraction lives in
``thinktank.graphs.answers``.
"""

from __future__ import annotations

import hashlib
import re
from fractions import Fraction

_BOXED = "\\boxed{"
_ANSWER_LINE = re.compile(
    r"^[ \t>*_#]*(?:final[ \t]+)?answer[ \t*_]*[:=][ \t]*(.*\S)[ \t]*$", re.I | re.M
)
_CANDIDATE_LINE = re.compile(
    r"^[ \t>*_#]*(?:candidate|proposed)[ \t]+(?:answer|solution)[ \t*_]*[:=][ \t]*((?:.*\S)?)[ \t]*$",
    re.I | re.M,
)
_NUMBERED = re.compile(
    r"^[ \t>*_#]*(?:candidate|response|solution)[ \t]*#?[ \t]*(\d+)[ \t*_]*[:.)\]][ \t]*",
    re.I | re.M,
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.I)
_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")


def _unwrap(text: str, prefix: str) -> str:
    """``\\prefix{inner}`` -> ``inner`` (balanced braces); unchanged when not wrapped."""
    if text.startswith(prefix) and text.endswith("}"):
        inner = boxed_contents(text)
        if inner is not None:
            return inner
    return text


def boxed_contents(text: str) -> str | None:
    """The contents of the last ``\\boxed{...}`` in ``text`` (balanced braces), if any."""
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def normalize_answer(text: str) -> str:
    """Canonical form used for equality: unwrapped, lower-case, numbers canonicalised.

    ``"$\\boxed{1,000}$."`` -> ``"1000"``; ``"42.0"`` -> ``"42"``; ``"3/4"`` -> ``"0.75"``;
    ``"(B)"`` -> ``"b"``.
    """
    s = text.strip().strip("$").strip()
    s = _unwrap(s, _BOXED)
    s = _unwrap(s, "\\text{")
    s = s.strip().rstrip(".").strip().strip("*").strip()
    if len(s) == 3 and s[0] == "(" and s[2] == ")":
        s = s[1]
    s = " ".join(s.split()).lower()
    plain = s.replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    try:
        if _NUMBER.match(plain):
            value = Fraction(plain)
        elif m := _FRACTION.match(plain):
            value = Fraction(int(m.group(1)), int(m.group(2)))
        else:
            return s
    except (ValueError, ZeroDivisionError):
        return s
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


def extract_answer(text: str) -> str | None:
    """The final answer in a reply: the last ``\\boxed{}``, else the last ``Answer:`` line."""
    boxed = boxed_contents(text)
    if boxed is not None:
        return boxed
    found = _ANSWER_LINE.findall(text)
    return found[-1] if found else None


def extract_candidate(text: str) -> str | None:
    """The answer a verifier is asked to check.

    The last ``Candidate answer: X`` / ``Proposed answer: X`` / ``Candidate solution: X``
    line (an empty line value means: the final answer of the text that follows it);
    else :func:`extract_answer` of the text.
    """
    matches = list(_CANDIDATE_LINE.finditer(text))
    if matches:
        m = matches[-1]
        value = m.group(1).strip()
        if value:
            inner = extract_answer(value)
            return inner if inner is not None else value
        return extract_answer(text[m.end() :])
    return extract_answer(text)


def extract_numbered(text: str) -> list[tuple[int, str | None]]:
    """Numbered candidates for a listwise judge: ``Candidate 1: ...``, ``Response 2: ...``.

    Returns ``(number, final answer of its block)`` for each header, in order; a
    block without an ``Answer:``/``\\boxed{}`` uses its last non-empty line.
    """
    heads = list(_NUMBERED.finditer(text))
    out: list[tuple[int, str | None]] = []
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        block = text[m.end() : end]
        answer = extract_answer(block)
        if answer is None:
            lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
            answer = lines[-1] if lines else None
        out.append((int(m.group(1)), answer))
    return out


_PAIR = (
    re.compile(r"^[ \t]*answer 1[ \t]*:[ \t]*((?:.*\S)?)[ \t]*$", re.I | re.M),
    re.compile(r"^[ \t]*answer 2[ \t]*:[ \t]*((?:.*\S)?)[ \t]*$", re.I | re.M),
)
_REFERENCE = (
    re.compile(r"^[ \t]*reference answer[ \t]*:[ \t]*((?:.*\S)?)[ \t]*$", re.I | re.M),
    _CANDIDATE_LINE,
)


def extract_pair(text: str) -> tuple[str, str] | None:
    """Two answers to compare for equivalence.

    ``Answer 1: X`` + ``Answer 2: Y`` lines, or ``Reference answer: X`` +
    ``Candidate answer: Y`` lines; None when the text has neither pair.
    """
    for first, second in (_PAIR, _REFERENCE):
        a, b = first.findall(text), second.findall(text)
        if a and b:
            return a[-1], b[-1]
    return None


def perturb_answer(answer: str, k: int, salt: str = "") -> list[str]:
    """``k`` distinct plausible wrong answers derived from ``answer`` (deterministic).

    Integers: nearby values and common slips (±1, ±2, ±10, ×2, digit swaps).
    Single letters (multiple choice): other letters A–E. Other text: marked variants.
    """
    norm = normalize_answer(answer)
    out: list[str] = []
    if re.fullmatch(r"[+-]?\d+", norm):
        v = int(norm)
        digits = str(abs(v))
        swapped = int(digits[::-1]) * (1 if v >= 0 else -1) if len(digits) > 1 else v + 3
        for cand in (v + 1, v - 1, v + 10, v - 10, swapped, v * 2, v + 2, v - 2, v + 100):
            if cand != v and str(cand) not in out:
                out.append(str(cand))
    elif re.fullmatch(r"[a-e]", norm):
        out = [c for c in "ABCDE" if c.lower() != norm]
    else:
        out = [f"{answer} (variant {i + 1})" for i in range(k)]
    # Rotate deterministically per question so every question doesn't fail the same way.
    h = int.from_bytes(hashlib.blake2b(f"{salt}|{answer}".encode(), digest_size=4).digest())
    shift = h % len(out)
    out = out[shift:] + out[:shift]
    n = 1
    while len(out) < k:
        out.append(f"{answer} (variant {n})")
        n += 1
    return out[:k]


# --- what interacting roles read (the framework's render conventions) ----------------------

_SECTION_END = re.compile(r"\n\n(?=(?:feedback|direction from the coordinator)[ \t]*:)", re.I)
_PREVIOUS_ONE = re.compile(r"^previous answer:[ \t]*\n", re.I | re.M)
_PREVIOUS_MANY = re.compile(r"^previous answers:[ \t]*\n", re.I | re.M)
_OTHER_AGENTS = re.compile(r"^answers from other agents\b[^\n]*:[ \t]*\n", re.I | re.M)
_AGENT = re.compile(r"^[ \t]*agent[ \t]+(\d+)[ \t]*:[ \t]*$", re.I | re.M)
_FLAG = re.compile(r"\bcandidate (['\"])(.*?)\1 (does not match|matches)\b", re.I)
_DISCUSSION = re.compile(r"^discussion of round \d+:", re.I | re.M)
_SPEAKER = re.compile(r"^\[([^\]\n]+?) #(\d+) \(([^)\n]+)\)\][ \t]*$", re.M)


def _section(text: str, start: int) -> str:
    """From ``start`` to the next ``Feedback:`` / ``Direction ...:`` part (or the end)."""
    end = _SECTION_END.search(text, start)
    return text[start : end.start() if end else len(text)]


def shown_answers(text: str) -> tuple[str, list[str | None]] | None:
    """The earlier answers a revising role is shown, and how it anchors on them.

    ``("target", [a])`` for a ``Previous answer:`` section (a refiner revising one
    answer); ``("support", [...])`` for ``Previous answers:`` (numbered candidates) or
    ``Answers from other agents ...:`` (``Agent k:`` blocks) — a reviser picks one in
    proportion to its support. None when the text shows no earlier answers.
    """
    if m := _PREVIOUS_ONE.search(text):
        return "target", [extract_answer(_section(text, m.end()))]
    if m := _PREVIOUS_MANY.search(text):
        return "support", [a for _, a in extract_numbered(_section(text, m.end()))]
    if m := _OTHER_AGENTS.search(text):
        part = _section(text, m.end())
        heads = list(_AGENT.finditer(part))
        blocks = [
            part[h.end() : heads[k + 1].start() if k + 1 < len(heads) else len(part)]
            for k, h in enumerate(heads)
        ] or [part]
        return "support", [extract_answer(b) for b in blocks]
    return None


def feedback_flags(text: str) -> dict[str, tuple[int, int]]:
    """Per normalised answer, how often the text's feedback (a critic's issue, a
    verifier's rationale) says it does not match / matches: ``(flagged, endorsed)``."""
    out: dict[str, tuple[int, int]] = {}
    for m in _FLAG.finditer(text):
        key = normalize_answer(m.group(2))
        flagged, endorsed = out.get(key, (0, 0))
        if m.group(3).lower() == "matches":
            endorsed += 1
        else:
            flagged += 1
        out[key] = (flagged, endorsed)
    return out


def discussion(text: str) -> list[tuple[str, str | None]] | None:
    """A CEO's round: ``(role, final answer or None)`` per ``[node #k (role)]`` block of
    its ``Discussion of round N:`` part; None when the text has no such part."""
    m = _DISCUSSION.search(text)
    if m is None:
        return None
    part = _section(text, m.end())
    heads = list(_SPEAKER.finditer(part))
    return [
        (
            h.group(3),
            extract_answer(
                part[h.end() : heads[k + 1].start() if k + 1 < len(heads) else len(part)]
            ),
        )
        for k, h in enumerate(heads)
    ]
