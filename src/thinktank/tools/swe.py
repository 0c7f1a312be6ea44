"""SWE editing tools over a repository inside a sandbox.

``view`` (a file with line numbers, optionally a range, or a directory listing),
``str_replace`` (exactly one match, else an error showing where the matches are),
``create``, ``insert``, ``undo_edit``, ``grep`` and ``submit`` (the patch: ``git
diff`` of the work tree, new files included, against the base commit). Paths are
relative to the repository root; paths that leave it are refused.
"""

from __future__ import annotations

import difflib
import posixpath
import shlex
from typing import Any

from pydantic import Field

from thinktank.errors import Submitted, ToolCallError
from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.errors import SandboxFileError
from thinktank.tools.base import Tool, ToolArgs

SNIPPET_LINES = 4


def numbered(text: str, start: int = 1) -> str:
    return "\n".join(f"{i:6d}\t{line}" for i, line in enumerate(text.split("\n"), start))


class Workspace:
    """A repository in a sandbox plus the edit history the tools share."""

    def __init__(self, sandbox: Sandbox, repo: str, *, base_commit: str = "HEAD") -> None:
        self.sandbox = sandbox
        self.repo = posixpath.normpath(
            repo if repo.startswith("/") else posixpath.join(sandbox.workdir, repo)
        )
        self.base_commit = base_commit
        self.history: dict[str, list[str | None]] = {}

    def resolve(self, path: str) -> str:
        full = posixpath.normpath(path if path.startswith("/") else posixpath.join(self.repo, path))
        if full != self.repo and not full.startswith(self.repo + "/"):
            raise ToolCallError(
                f"{path!r} is outside the repository {self.repo}; use a path inside it"
            )
        inner = full[len(self.repo) :]
        if inner == "/.git" or inner.startswith("/.git/"):
            raise ToolCallError("the .git directory cannot be viewed or edited with these tools")
        return full

    def rel(self, full: str) -> str:
        return posixpath.relpath(full, self.repo)

    async def kind(self, full: str) -> str:
        res = await self.sandbox.exec(
            [
                "sh",
                "-c",
                'if [ -d "$1" ]; then echo dir; elif [ -f "$1" ]; then echo file; else echo none; fi',
                "sh",
                full,
            ]
        )
        return res.stdout.strip()

    async def read(self, full: str) -> str:
        try:
            return await self.sandbox.read_text(full)
        except SandboxFileError as exc:
            raise ToolCallError(f"cannot read {self.rel(full)}: {exc}") from exc

    async def write(self, full: str, text: str, *, previous: str | None) -> None:
        self.history.setdefault(full, []).append(previous)
        await self.sandbox.write_file(full, text)

    def snippet(self, text: str, line: int, span: int) -> str:
        lines = text.split("\n")
        start = max(1, line - SNIPPET_LINES)
        end = min(len(lines), line + span + SNIPPET_LINES)
        return numbered("\n".join(lines[start - 1 : end]), start)


class _WsTool(Tool[Any]):
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws


class ViewArgs(ToolArgs):
    path: str
    """File or directory, relative to the repository root."""
    view_range: list[int] | None = Field(default=None, min_length=2, max_length=2)
    """[first, last] line numbers to show (1-based, last -1 = end of file)."""


class View(_WsTool):
    name = "view"
    description = "Show a file with line numbers (optionally a line range), or list a directory two levels deep."
    args_model = ViewArgs

    async def run(self, args: ViewArgs) -> str:
        full = self.ws.resolve(args.path)
        kind = await self.ws.kind(full)
        if kind == "none":
            raise ToolCallError(
                f"{args.path} does not exist; list the parent directory with view to find it"
            )
        if kind == "dir":
            res = await self.ws.sandbox.exec(
                [
                    "find",
                    full,
                    "-maxdepth",
                    "2",
                    "-not",
                    "-path",
                    "*/.git*",
                    "-not",
                    "-name",
                    "__pycache__",
                ]
            )
            entries = sorted(self.ws.rel(p) for p in res.stdout.split("\n") if p)
            return "\n".join(entries)
        text = await self.ws.read(full)
        if args.view_range is None:
            return numbered(text)
        lines = text.split("\n")
        first, last = args.view_range
        last = len(lines) if last == -1 else last
        if not 1 <= first <= len(lines) or last < first:
            raise ToolCallError(
                f"view_range {args.view_range} is outside the file's {len(lines)} lines"
            )
        return numbered("\n".join(lines[first - 1 : last]), first)


class StrReplaceArgs(ToolArgs):
    path: str
    """File to edit."""
    old_str: str = Field(min_length=1)
    """Exact text to replace; must occur exactly once (include surrounding lines to make it unique)."""
    new_str: str = ""
    """Replacement text."""


class StrReplace(_WsTool):
    name = "str_replace"
    description = "Replace one exact, unique occurrence of old_str in a file by new_str."
    args_model = StrReplaceArgs

    async def run(self, args: StrReplaceArgs) -> str:
        full = self.ws.resolve(args.path)
        text = await self.ws.read(full)
        count = text.count(args.old_str)
        if count == 0:
            close = difflib.get_close_matches(
                args.old_str.strip().split("\n")[0],
                [ln.strip() for ln in text.split("\n")],
                n=3,
                cutoff=0.6,
            )
            hint = ("; similar lines: " + " | ".join(repr(c) for c in close)) if close else ""
            raise ToolCallError(
                f"old_str does not occur in {args.path} (it must match exactly, whitespace included){hint}"
            )
        if count > 1:
            lines = [text[:i].count("\n") + 1 for i in _find_all(text, args.old_str)]
            raise ToolCallError(
                f"old_str occurs {count} times in {args.path}, at lines {lines}; include more context so it is unique"
            )
        new = text.replace(args.old_str, args.new_str, 1)
        await self.ws.write(full, new, previous=text)
        line = text[: text.index(args.old_str)].count("\n") + 1
        return f"Edited {args.path}. The changed region:\n{self.ws.snippet(new, line, args.new_str.count(chr(10)))}"


def _find_all(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i != -1:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


class CreateArgs(ToolArgs):
    path: str
    """New file to create."""
    file_text: str
    """Its full content."""


class Create(_WsTool):
    name = "create"
    description = (
        "Create a new file with the given content (refuses to overwrite an existing file)."
    )
    args_model = CreateArgs

    async def run(self, args: CreateArgs) -> str:
        full = self.ws.resolve(args.path)
        if await self.ws.kind(full) != "none":
            raise ToolCallError(f"{args.path} already exists; edit it with str_replace or insert")
        await self.ws.write(full, args.file_text, previous=None)
        return f"Created {args.path} ({args.file_text.count(chr(10)) + 1} lines)."


class InsertArgs(ToolArgs):
    path: str
    """File to edit."""
    insert_line: int = Field(ge=0)
    """Insert after this line (0 = at the top)."""
    new_str: str
    """Text to insert."""


class Insert(_WsTool):
    name = "insert"
    description = "Insert text after a given line of a file (0 inserts at the top)."
    args_model = InsertArgs

    async def run(self, args: InsertArgs) -> str:
        full = self.ws.resolve(args.path)
        text = await self.ws.read(full)
        lines = text.split("\n")
        if args.insert_line > len(lines):
            raise ToolCallError(
                f"insert_line {args.insert_line} is past the end of {args.path} ({len(lines)} lines)"
            )
        new = "\n".join(
            [*lines[: args.insert_line], *args.new_str.split("\n"), *lines[args.insert_line :]]
        )
        await self.ws.write(full, new, previous=text)
        return f"Inserted into {args.path}:\n{self.ws.snippet(new, args.insert_line + 1, args.new_str.count(chr(10)))}"


class UndoArgs(ToolArgs):
    path: str
    """File whose last edit to revert."""


class UndoEdit(_WsTool):
    name = "undo_edit"
    description = "Revert the last edit made to a file by these tools."
    args_model = UndoArgs

    async def run(self, args: UndoArgs) -> str:
        full = self.ws.resolve(args.path)
        stack = self.ws.history.get(full)
        if not stack:
            raise ToolCallError(f"no edit of {args.path} to undo")
        previous = stack.pop()
        if previous is None:
            await self.ws.sandbox.exec(["rm", "-f", full])
            return f"Removed {args.path} (its creation was undone)."
        await self.ws.sandbox.write_file(full, previous)
        return f"Reverted the last edit of {args.path}."


class GrepArgs(ToolArgs):
    pattern: str = Field(min_length=1)
    """Extended regular expression."""
    path: str = "."
    """File or directory to search."""
    include: str | None = None
    """Only files matching this glob, e.g. '*.py'."""


class Grep(_WsTool):
    name = "grep"
    description = (
        "Search files for a regular expression; prints file:line:text (up to 200 matches)."
    )
    args_model = GrepArgs

    async def run(self, args: GrepArgs) -> str:
        full = self.ws.resolve(args.path)
        argv = (
            ["grep", "-rnIE", "--exclude-dir=.git"]
            + ([f"--include={args.include}"] if args.include else [])
            + ["--", args.pattern, full]
        )
        res = await self.ws.sandbox.exec(f"{shlex.join(argv)} | head -n 200", cwd=self.ws.repo)
        if res.exit_code not in (0, 1) or "grep:" in res.stderr:
            raise ToolCallError(f"grep failed: {res.stderr.strip() or res.exit_code}")
        out = res.stdout.replace(self.ws.repo + "/", "")
        return out.strip() or f"no matches for {args.pattern!r}"


class SubmitArgs(ToolArgs):
    pass


class Submit(_WsTool):
    name = "submit"
    description = (
        "Submit your changes (the diff of the repository against the base commit) and finish."
    )
    args_model = SubmitArgs

    async def run(self, args: SubmitArgs) -> str:
        patch = await diff(self.ws)
        raise Submitted(patch, metadata={"files": _files(patch), "bytes": len(patch)})


async def diff(ws: Workspace) -> str:
    """``git diff`` of the work tree (new files included) against the base commit."""
    git = ["git", "-C", ws.repo, "-c", "core.quotepath=off"]
    await ws.sandbox.exec([*git, "add", "-A"])
    res = await ws.sandbox.exec(
        [*git, "diff", "--cached", "--no-color", ws.base_commit], output_cap=16 << 20
    )
    if res.exit_code != 0:
        raise ToolCallError(f"git diff failed: {res.stderr.strip()}")
    return res.stdout


def _files(patch: str) -> list[str]:
    return [
        line.split(" b/", 1)[1]
        for line in patch.split("\n")
        if line.startswith("diff --git ") and " b/" in line
    ]


def swe_tools(sandbox: Sandbox, repo: str, *, base_commit: str = "HEAD") -> list[Tool[Any]]:
    """The SWE editing tools over ``repo`` (a sandbox path) sharing one edit history."""
    ws = Workspace(sandbox, repo, base_commit=base_commit)
    return [View(ws), StrReplace(ws), Create(ws), Insert(ws), UndoEdit(ws), Grep(ws), Submit(ws)]
