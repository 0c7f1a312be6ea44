"""Patches in the SWE harness: reading the apply script's log, finding diffs in replies.

The apply script (:data:`thinktank.evals.swe.scripts.MODEL_APPLY_SCRIPT`) prints
``@@`` markers that :func:`parse_apply_log` reads; everything else in its output is
the log. Test logs are read by :mod:`thinktank.evals.swe.logs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIFF_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)
_FENCED_DIFF = re.compile(r"```(?:diff|patch)?[ \t]*\n(.*?)```", re.S)
_ERROR_LINE = re.compile(r"error|fail|can't find|malformed|corrupt|reject|not apply", re.I)


@dataclass
class ApplyResult:
    """What the apply script did."""

    applied: bool
    """The model's patch applied (or was empty)."""
    method: str | None
    """``git apply``, ``patch --fuzz=N``, ``empty`` or ``None`` when it did not apply."""
    test_patch_applied: bool
    error: str = ""
    """The lines explaining a failure."""


def parse_apply_log(output: str) -> ApplyResult:
    """Read the apply script's markers."""
    lines = output.splitlines()
    markers = [ln.strip() for ln in lines if ln.startswith("@@")]
    method: str | None = None
    if "@@EMPTY" in markers:
        method = "empty"
    for m in markers:
        if m.startswith("@@APPLIED "):
            method = m.removeprefix("@@APPLIED ")
    applied = method is not None
    # the test patch is applied by the evaluation script; a log of the model's patch
    # alone has no test-patch marker
    test_ok = "@@TEST-PATCH-FAILED" not in markers
    error = ""
    if not applied or not test_ok:
        errors = [ln.strip() for ln in lines if not ln.startswith("@@") and _ERROR_LINE.search(ln)]
        other = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("@@")]
        picked = errors[:4] or other[-4:]
        error = "; ".join(picked) or next((m for m in markers if "ERROR" in m), "no output")
    return ApplyResult(applied, method, test_ok, error)


def touched_files(test_patch: str) -> list[str]:
    """Files the test patch touches (both names of a rename), in order, once each."""
    seen: dict[str, None] = {}
    for a, b in _DIFF_HEADER.findall(test_patch):
        seen.setdefault(a)
        seen.setdefault(b)
    return list(seen)


def looks_like_patch(text: str | None) -> bool:
    """True when ``text`` is a unified diff (``diff --git`` or ``---``/``+++``/``@@``)."""
    if not text or not text.strip():
        return False
    if _DIFF_HEADER.search(text):
        return True
    return bool(re.search(r"^--- \S", text, re.M) and re.search(r"^\+\+\+ \S", text, re.M)) and (
        "\n@@" in text
    )


def extract_patch(text: str | None) -> str | None:
    """The diff in a reply: its last fenced ``diff`` block, else the text from its first
    ``diff --git`` line; ``None`` when there is no diff."""
    if not text:
        return None
    fenced = [b for b in _FENCED_DIFF.findall(text) if looks_like_patch(b)]
    if fenced:
        body = fenced[-1]
    elif looks_like_patch(text):
        first = _DIFF_HEADER.search(text)
        body = text[first.start() :] if first else text
    else:
        return None
    return body if body.endswith("\n") else body + "\n"


def tail(text: str, n: int) -> str:
    """The last ``n`` characters of ``text`` (marked when cut)."""
    return text if len(text) <= n else "[…]\n" + text[-n:]
