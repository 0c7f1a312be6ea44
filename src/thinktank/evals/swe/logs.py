"""Test statuses from an evaluation log, and the verdict, graded as the official harness does.

:func:`read_test_log` reads the part of the log between the evaluation script's
``>>>>> Start Test Output`` and ``>>>>> End Test Output`` markers (the whole log when
the markers are missing or nothing between them parses) with the instance's
``swebench`` log parser, looked up by name in the installed package (``swebench`` 4
and 5 name them alike); without the package, or for a parser it does not have, a
pytest ``-rA`` reader of our own is used and the result says so.

:func:`grade` applies the official rules: a FAIL_TO_PASS test must pass (``PASSED``
or ``XFAIL``); a PASS_TO_PASS test must pass or be skipped; a test missing from the
log fails; expected ids cut mid-parameter (``test_x[a``) match the one reported id
they begin; ``fail_only`` instances count every test not reported as failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from thinktank.evals.swe.specs import swebench_module

START = ">>>>> Start Test Output"
END = ">>>>> End Test Output"
EXIT_MARK = ">>>>> Test Exit Code"
PASSING = frozenset({"PASSED", "XFAIL"})
"""Statuses that count as passing (SWE-bench counts expected failures as passing)."""
STATUSES = ("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL")

_SKIP_COUNT = re.compile(r"^\[\d+\]$")
_EXIT_RE = re.compile(re.escape(EXIT_MARK) + r":\s*(-?\d+)")


def _test_id(rest: str) -> str:
    """The test id at the start of a summary line's remainder (before `` - message``).

    Ids have no spaces except inside their parameter brackets (``test_x[a - b]``), so
    a bracketed id runs to its balancing ``]`` and any other id to the first blank.
    """
    first, sep = rest.find("["), rest.find(" ")
    if first != -1 and (sep == -1 or first < sep):
        depth = 0
        for i in range(first, len(rest)):
            if rest[i] == "[":
                depth += 1
            elif rest[i] == "]":
                depth -= 1
                if depth == 0:
                    return rest[: i + 1]
        return rest.split(" - ")[0]
    return rest.split()[0]


def parse_pytest_rA(log: str) -> dict[str, str]:
    """Test id → status from pytest ``-rA`` output, as the official pytest parser reads it.

    A line that starts with a status (``PASSED``, ``FAILED``, ``SKIPPED``, ``ERROR``,
    ``XFAIL``) gives its next word as the id — the datasets list ids that way, odd ones
    such as ``[100%]`` included — except a ``SKIPPED [n] file:line: reason`` summary.
    An id with spaces inside its parameter brackets (``test_x[a b]``) is also recorded
    whole, so datasets that list it whole match too; ``XPASS`` lines are not statuses.
    """
    out: dict[str, str] = {}
    for line in log.split("\n"):
        status = next((s for s in STATUSES if line.startswith(s)), None)
        if status is None:
            continue
        words = (line.replace(" - ", " ") if status == "FAILED" else line).split()
        if len(words) <= 1 or words[0] != status:
            continue
        if status == "SKIPPED" and _SKIP_COUNT.match(words[1]):
            continue
        out[words[1]] = status
        whole = _test_id(line[len(status) :].strip())
        if whole != words[1] and "::" in whole:
            out[whole] = status
    return out


@dataclass
class ParsedLog:
    """What a test log says."""

    statuses: dict[str, str]
    parser: str
    """The parser used (``swebench:<name>`` or ``pytest-rA``)."""
    ran: bool
    """Both markers were found (the evaluation script reached the end of the tests)."""
    exit_code: int | None = None
    """The test command's exit status, when the script recorded it."""
    notes: list[str] = field(default_factory=list)


def _parser(name: str | None) -> Callable[..., Any] | None:
    if not name:
        return None
    registry = getattr(swebench_module("harness.log_parsers"), "PARSER_REGISTRY", None) or {}
    if name in registry:
        found: Callable[..., Any] = registry[name]
        return found
    for module in ("harness.log_parsers", "harness.log_parsers.python"):
        fn = getattr(swebench_module(module), name, None)
        if callable(fn):
            return fn
    return None


def _between(log: str) -> tuple[str, bool]:
    if START in log and END in log:
        return log.split(START, 1)[1].split(END, 1)[0], True
    return log, False


def read_test_log(
    log: str, *, parser: str | None, instance: dict[str, Any] | None = None
) -> ParsedLog:
    """Statuses from ``log`` with the ``swebench`` parser named ``parser`` (else pytest)."""
    part, ran = _between(log)
    m = _EXIT_RE.search(log)
    exit_code = int(m.group(1)) if m else None
    fn = _parser(parser)
    notes: list[str] = []
    if fn is not None:
        spec = SimpleNamespace(**(instance or {}))
        try:
            got = _call(fn, part, spec) or (_call(fn, log, spec) if ran else {})
            statuses = {str(k): str(getattr(v, "value", v)) for k, v in dict(got).items()}
            return ParsedLog(statuses, f"swebench:{parser}", ran, exit_code)
        except Exception as exc:  # a third-party parser choking on odd output
            notes.append(
                f"swebench's {parser} failed ({type(exc).__name__}: {exc}); read as pytest"
            )
    elif parser and parser != "parse_log_pytest":
        notes.append(f"the installed swebench has no {parser}; read as pytest -rA output")
    statuses = parse_pytest_rA(part) or (parse_pytest_rA(log) if ran else {})
    return ParsedLog(statuses, "pytest-rA", ran, exit_code, notes)


def _call(fn: Callable[..., Any], log: str, spec: Any) -> Any:
    try:
        return fn(log, spec)
    except TypeError:  # old parsers take the log only
        return fn(log)


def _key(case: str, statuses: dict[str, str]) -> str | None:
    if case in statuses:
        return case
    if case.count("[") > case.count("]"):  # an id cut mid-parameter in the dataset
        found = [k for k in statuses if k.startswith(case)]
        if found and len({statuses[k] in PASSING for k in found}) == 1:
            return found[0]
    return None


def status_of(case: str, statuses: dict[str, str]) -> str:
    """The status of ``case`` (``MISSING`` when the log does not report it)."""
    key = _key(case, statuses)
    return "MISSING" if key is None else statuses[key]


@dataclass
class Grade:
    """The graded outcome of one evaluation."""

    resolved: bool
    FAIL_TO_PASS: dict[str, str]
    PASS_TO_PASS: dict[str, str]
    failing: list[str]
    """Listed tests that did not do what they must."""
    passed: int
    total: int


def grade(
    statuses: dict[str, str],
    fail_to_pass: Sequence[str],
    pass_to_pass: Sequence[str],
    *,
    eval_type: str = "pass_and_fail",
) -> Grade:
    """The official resolution rule over ``statuses`` (see the module docstring)."""
    f2p = {c: status_of(c, statuses) for c in fail_to_pass}
    p2p = {c: status_of(c, statuses) for c in pass_to_pass}
    if eval_type == "fail_only":
        bad = [c for c, s in {**f2p, **p2p}.items() if s == "FAILED"]
    else:
        bad = [c for c, s in f2p.items() if s not in PASSING]
        bad += [c for c, s in p2p.items() if s not in PASSING and s != "SKIPPED"]
    total = len(f2p) + len(p2p)
    return Grade(
        resolved=not bad,
        FAIL_TO_PASS=f2p,
        PASS_TO_PASS=p2p,
        failing=bad,
        passed=total - len(bad),
        total=total,
    )
