"""Code answers: extract the program from a reply; group programs by behaviour.

Two programs are "the same answer" when they behave the same on the tests at
hand, not when their text matches. :func:`behaviour_keys` runs every candidate
against every test through a caller-supplied :data:`TestRunner` and turns the
pass/fail pattern into a voting key (``"pass:1101"``), so a majority vote picks
the largest cluster of programs that agree on the tests — the generated-test
voting of CodeMonkeys and S*. Running code is the sandbox layer's job; the runner
hook keeps this module free of any execution backend
(``thinktank.evals.tasks.evaluators.code.sandbox_runner`` builds one from a sandbox).

Without tests, :func:`canonical_code` gives a formatting-insensitive key (the
``ast`` round trip with docstrings removed), a weak but honest fallback.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence

TestRunner = Callable[[str, str], Awaitable[bool]]
"""``await runner(program, test) -> passed``: run ``test`` (code that raises on
failure, e.g. asserts or ``check(candidate)``) after ``program``. A runner must
return ``False`` (not raise) for failing, crashing or timed-out programs."""

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_PYTHON_TAGS = frozenset({"python", "py", "python3", "py3", ""})


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block as ``(language tag, code)``, in order.

    A final block whose closing fence is missing (a reply cut off at the token
    limit) is included up to the end of the text.
    """
    return [
        (m.group("lang").lower(), m.group("body").rstrip("\n") + "\n")
        for m in _FENCE.finditer(text)
    ]


def extract_code(text: str, *, language: str | None = "python") -> str | None:
    """The last fenced code block of a reply (preferring ``language``), or ``None``.

    With ``language="python"``, blocks tagged ``python``/``py`` or untagged are
    preferred; if none qualify, the last block of any tag is used. A reply with no
    fence at all that parses as Python in full is returned as is.
    """
    blocks = code_blocks(text)
    if blocks:
        if language is not None:
            wanted = _PYTHON_TAGS if language.lower() in _PYTHON_TAGS else {language.lower()}
            preferred = [code for tag, code in blocks if tag in wanted]
            if preferred:
                return preferred[-1]
        return blocks[-1][1]
    if language is not None and language.lower() in _PYTHON_TAGS and "\n" in text.strip():
        try:
            ast.parse(text)
        except SyntaxError:
            return None
        return text.strip("\n") + "\n"
    return None


def _drop_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def canonical_code(code: str) -> str:
    """A text key insensitive to formatting, comments and docstrings.

    Python that parses is round-tripped through :mod:`ast`; anything else is
    compared with whitespace runs collapsed.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return " ".join(code.split())
    return ast.unparse(_drop_docstrings(tree))


async def behaviour_signature(
    program: str, tests: Sequence[str], runner: TestRunner, *, concurrency: int = 8
) -> tuple[bool, ...]:
    """Pass/fail of ``program`` on each test, in the order of ``tests``."""
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(test: str) -> bool:
        async with sem:
            return bool(await runner(program, test))

    return tuple(await asyncio.gather(*(one(t) for t in tests)))


def signature_key(signature: Sequence[bool]) -> str:
    """``(True, False, True)`` → ``"pass:101"``."""
    return "pass:" + "".join("1" if ok else "0" for ok in signature)


async def behaviour_keys(
    replies: Sequence[str | None],
    tests: Sequence[str],
    runner: TestRunner,
    *,
    extract: bool = True,
    concurrency: int = 8,
) -> list[str | None]:
    """One voting key per reply: its pass pattern on ``tests`` (``None`` without code).

    ``extract`` pulls the program out of each reply first (:func:`extract_code`);
    identical programs are run once. With no tests, the keys fall back to
    :func:`canonical_code`.
    """
    programs = [(extract_code(r) if extract else r) if r is not None else None for r in replies]
    if not tests:
        return [canonical_code(p) if p is not None else None for p in programs]
    sem = asyncio.Semaphore(max(1, concurrency))
    distinct = sorted({p for p in programs if p is not None})

    async def run(p: str) -> tuple[str, tuple[bool, ...]]:
        async with sem:
            return p, await behaviour_signature(p, tests, runner, concurrency=concurrency)

    results = dict(await asyncio.gather(*(run(p) for p in distinct)))
    return [signature_key(results[p]) if p is not None else None for p in programs]


def passed_count(key: str | None) -> int:
    """How many tests a :func:`signature_key` records as passed (0 for ``None``)."""
    if not key or not key.startswith("pass:"):
        return 0
    return key.count("1", 5)
