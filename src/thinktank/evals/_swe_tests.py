"""The SWE harness's in-sandbox apply script and the parsers of its output and test logs.

The apply step is one shell script (one ``exec``, the patches on its stdin) so a
judged patch costs few round trips: apply the model's patch (``git apply``, else ``patch --fuzz``), reset the
files the test patch touches to the base commit (a patch may not change the tests
that judge it), apply the test patch. It prints ``@@`` markers that
:func:`parse_apply_log` reads; everything else in its output is the log.
"""

from __future__ import annotations

import importlib
import io
import re
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thinktank.evals.suites.swe import parse_pytest_report

if TYPE_CHECKING:
    from thinktank.evals._swe_repo import SWECase

APPLY_SCRIPT = r"""
d="$2"; base="$3"; fuzz="$4"
if [ ! -e "$d/model.patch" ]; then
  mkdir -p "$d" && tar -x -m -C "$d" -f - || { echo "@@ERROR cannot unpack the patches"; exit 4; }
fi
model="$d/model.patch"; tests="$d/test.patch"
cd "$1" 2>/dev/null || { echo "@@ERROR no repository at $1"; exit 3; }
shift 4
if ! grep -q '[^[:space:]]' "$model" 2>/dev/null; then
  echo "@@EMPTY"
elif git apply --verbose --whitespace=nowarn "$model" 2>&1; then
  echo "@@APPLIED git apply"
else
  echo "@@GIT-APPLY-FAILED"
  if patch --batch --forward --fuzz="$fuzz" -p1 -i "$model" 2>&1; then
    echo "@@APPLIED patch --fuzz=$fuzz"
  else
    echo "@@APPLY-FAILED"; exit 0
  fi
fi
for f in "$@"; do
  if git cat-file -e "$base:$f" 2>/dev/null; then git checkout -q "$base" -- "$f"; else rm -f -- "$f"; fi
done
if ! grep -q '[^[:space:]]' "$tests" 2>/dev/null; then
  echo "@@TEST-PATCH-APPLIED"
elif git apply --verbose "$tests" 2>&1; then
  echo "@@TEST-PATCH-APPLIED"
else
  echo "@@TEST-PATCH-FAILED"
fi
"""
"""``sh -c APPLY_SCRIPT sh REPO PATCH_DIR BASE FUZZ [TEST_FILE...]`` with a tar of
``model.patch`` and ``test.patch`` on stdin (:func:`patches_tar`), unpacked into PATCH_DIR
unless it holds them already."""


def patches_tar(model: str, tests: str) -> bytes:
    """An uncompressed tar of ``model.patch`` and ``test.patch`` (the apply script's stdin)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, text in (("model.patch", model), ("test.patch", tests)):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PYTHON_SHIM = (
    'command -v python >/dev/null 2>&1 || { python() { python3 "$@"; }; export -f python; }\n'
)
"""Shell prefix that makes ``python`` mean ``python3`` where only the latter exists
(the sandbox image; test commands and models say ``python``)."""

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


def _swebench_parser(case: SWECase) -> Any:
    try:
        parsers = importlib.import_module("swebench.harness.log_parsers")
    except ImportError:
        return None
    table = getattr(parsers, "MAP_REPO_TO_PARSER", {}) or {}
    return table.get(case.instance.repo)


def parse_test_log(output: str, case: SWECase) -> dict[str, str]:
    """Test id → status from a test run's output.

    Instances set up from the ``swebench`` package's specs are read with that
    package's log parser for their repository (Django, SymPy, … print their own
    formats); everything else is pytest ``-rA`` output.
    """
    if case.spec.source == "swebench":
        parser = _swebench_parser(case)
        if parser is not None:
            try:
                try:
                    got = parser(output)
                except TypeError:  # newer swebench versions take the test spec too
                    got = parser(output, None)
                return {str(k): str(getattr(v, "value", v)) for k, v in dict(got).items()}
            except Exception:  # a third-party parser choking on odd output: fall back
                pass
    return parse_pytest_report(output)
