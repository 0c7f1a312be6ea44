"""Code tools that run in a sandbox: ``python`` and ``bash``.

Both report exit status, timeouts, OOM kills and truncation in plain words so the
model can react. ``python`` runs each call in a fresh interpreter, or — with
``stateful=True`` — in one persistent session where variables survive between
calls (a code-interpreter agent).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.session import PythonSession
from thinktank.sandboxes.types import CellResult, ExecResult
from thinktank.tools.base import Tool, ToolArgs, ToolResult


def describe(res: ExecResult, *, what: str = "command") -> ToolResult:
    """An exec result as the model should read it."""
    parts: list[str] = []
    if res.stdout:
        parts.append(res.stdout.rstrip("\n"))
    if res.stderr:
        parts.append(f"[stderr]\n{res.stderr.rstrip()}")
    notes = []
    if res.timed_out:
        notes.append(f"the {what} timed out and was killed")
    if res.oom_killed:
        notes.append(f"the {what} ran out of memory and was killed")
    if res.truncated:
        notes.append("output was cut at the size limit")
    if isinstance(res, CellResult) and res.session_restarted:
        notes.append("the Python session restarted: earlier variables are gone")
    if res.exit_code != 0 and not res.timed_out:
        notes.append(
            f"exit code {res.exit_code}" + (" (command not found)" if res.exit_code == 127 else "")
        )
    if notes:
        parts.append("[" + "; ".join(notes) + "]")
    text = "\n".join(parts) if parts else "(no output)"
    meta: dict[str, Any] = {
        "exit_code": res.exit_code,
        "timed_out": res.timed_out,
        "oom_killed": res.oom_killed,
        "truncated": res.truncated,
        "duration_s": round(res.duration_s, 4),
    }
    is_error = res.exit_code != 0 or res.timed_out
    return ToolResult(content=text, is_error=is_error, metadata=meta)


class PythonArgs(ToolArgs):
    code: str = Field(min_length=1)
    """Python source to run; print what you want to see."""


class PythonTool(Tool[PythonArgs]):
    """Run Python in the sandbox."""

    name = "python"
    args_model = PythonArgs

    def __init__(
        self, sandbox: Sandbox, *, stateful: bool = False, timeout_s: float = 60.0
    ) -> None:
        self.sandbox = sandbox
        self.stateful = stateful
        self.timeout_s = timeout_s
        self._session: PythonSession | None = None
        self.description = (
            "Run Python 3 code in an isolated sandbox and return what it prints. "
            + (
                "Variables, imports and functions persist between calls; the value of a final bare expression is shown."
                if stateful
                else "Each call starts a fresh interpreter: print the results you need."
            )
            + f" Calls are limited to {timeout_s:g} s; there is no network access."
        )

    async def run(self, args: PythonArgs) -> ToolResult:
        if not self.stateful:
            return describe(
                await self.sandbox.run_python(args.code, timeout=self.timeout_s), what="program"
            )
        if self._session is None:
            self._session = self.sandbox.python_session()
        res = await self._session.run(args.code, timeout=self.timeout_s)
        out = describe(res, what="cell")
        if res.error and res.error not in out.content:
            out = out.model_copy(update={"content": f"{out.content}\n{res.error}".strip()})
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class BashArgs(ToolArgs):
    command: str = Field(min_length=1)
    """A bash command line, run in the working directory."""
    timeout: float | None = Field(default=None, gt=0, le=3600)
    """Seconds before the command is killed (default: the tool's limit)."""


class BashTool(Tool[BashArgs]):
    """Run a shell command in the sandbox."""

    name = "bash"
    args_model = BashArgs

    def __init__(
        self, sandbox: Sandbox, *, timeout_s: float = 120.0, cwd: str | None = None
    ) -> None:
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self.cwd = cwd
        self.description = (
            "Run a bash command in an isolated sandbox (no network) and return its output and exit code. "
            f"Commands are killed after {timeout_s:g} s unless you pass a smaller timeout."
        )

    async def run(self, args: BashArgs) -> ToolResult:
        limit = min(args.timeout or self.timeout_s, self.timeout_s)
        return describe(await self.sandbox.exec(args.command, timeout=limit, cwd=self.cwd))
