"""The sandbox contract: lifecycle (providers, pools) apart from operations (this class).

A :class:`Sandbox` is one isolated place to run commands, started and ready. Backends
implement three primitives — :meth:`Sandbox._exec`, :meth:`Sandbox._spawn` and
:meth:`Sandbox._shutdown` — and inherit every operation built on them:
``exec``, ``run_python``, ``python_session``, ``write_file``/``read_file``,
``upload``/``download`` (uncompressed tar through the sandbox's own ``tar``, so file
operations never carry more privilege than the sandboxed code has) and ``close``.

Use it as an async context manager so it is always closed::

    async with await provider.create() as sb:
        result = await sb.exec("pytest -q", timeout=300)
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Protocol

from thinktank import telemetry
from thinktank.sandboxes import _transfer
from thinktank.sandboxes.errors import (
    FileTooLarge,
    SandboxClosed,
    SandboxError,
    SandboxFileError,
    SandboxFileNotFound,
)
from thinktank.sandboxes.types import DEFAULT_OUTPUT_CAP, ExecResult

if TYPE_CHECKING:
    from thinktank.sandboxes.session import PythonSession

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INLINE_CODE_LIMIT = 100_000  # bytes; longer programs go through a file (argv limits)
EXEC_MARK = "THINKTANK_EXEC"  # env var naming the exec a process belongs to (for kills)


class ProcessChannel(Protocol):
    """A long-lived process in a sandbox with binary stdin/stdout (stderr discarded)."""

    async def write(self, data: bytes) -> None:
        """Send bytes to the process's stdin."""
        ...

    async def read(self, n: int) -> bytes:
        """Read exactly ``n`` bytes of stdout; raise :class:`EOFError` if it ends first."""
        ...

    async def kill(self) -> None:
        """Kill the process and everything it started."""
        ...

    async def aclose(self) -> None:
        """Release the channel (kills the process if still running)."""
        ...


class Sandbox(ABC):
    """One started sandbox. Operations are async; file paths are sandbox paths.

    Relative paths are relative to :attr:`workdir`; paths with ``..`` are refused.
    """

    backend: ClassVar[str] = "abstract"

    def __init__(
        self,
        *,
        workdir: str,
        scratch_dir: str,
        default_timeout: float = 120.0,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        max_file_bytes: int = 32 << 20,
        max_transfer_bytes: int = 256 << 20,
        shell: Sequence[str] = ("/bin/bash", "-c"),
        python: str = "python3",
        sandbox_id: str | None = None,
    ) -> None:
        self.id = sandbox_id or uuid.uuid4().hex[:12]
        self.workdir = workdir
        self.scratch_dir = scratch_dir
        self.default_timeout = default_timeout
        self.output_cap = output_cap
        self.max_file_bytes = max_file_bytes
        self.max_transfer_bytes = max_transfer_bytes
        self.shell = tuple(shell)
        self.python = python
        self._closed = False
        self._oom_seen = 0
        self._sessions: set[PythonSession] = set()

    # --- primitives a backend implements ----------------------------------------------

    @abstractmethod
    async def _exec(
        self,
        argv: list[str],
        *,
        timeout: float,  # noqa: ASYNC109
        cwd: str,
        env: dict[str, str],
        stdin: bytes | None,
        output_cap: int,
        decode: bool = True,
    ) -> ExecResult:
        """Run ``argv``; kill its process tree after ``timeout`` seconds; cap each stream.

        ``decode=False``: stdout stays bytes only (``ExecResult.from_bytes(decode=False)``).
        """

    @abstractmethod
    async def _spawn(self, argv: list[str], *, env: dict[str, str]) -> ProcessChannel:
        """Start a long-lived process with stdin/stdout attached (used by Python sessions)."""

    @abstractmethod
    async def _shutdown(self) -> None:
        """Destroy the sandbox and everything in it. Must be idempotent."""

    async def _reset(self) -> bool:
        """Return the sandbox to its fresh state (kill processes, wipe writable dirs).

        Returns False when the backend cannot guarantee a clean state; pools then discard.
        """
        return False

    async def _oom_kills(self) -> int | None:
        """Count of OOM kills seen in this sandbox, or ``None`` when unknown."""
        return None

    async def _oom_happened(self) -> bool:
        """True when the OOM-kill count grew since the last call (the baseline moves on)."""
        count = await self._oom_kills()
        if count is None or count <= self._oom_seen:
            return False
        self._oom_seen = count
        return True

    # --- operations -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosed(f"{self.backend} sandbox {self.id} is closed; create a new one")

    def path(self, path: str | Path) -> str:
        """The absolute sandbox path for ``path`` (relative to :attr:`workdir`)."""
        return _transfer.sandbox_path(str(path), self.workdir)

    async def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | bytes | None = None,
        output_cap: int | None = None,
        decode: bool = True,
    ) -> ExecResult:
        """Run a shell command (``str``) or an argv (list). Never raises for a failing command:
        exit 127 means not found; ``timed_out``/``oom_killed``/``truncated`` say what happened.
        ``decode=False`` skips decoding stdout (binary output: read ``stdout_bytes``).
        """
        self._check_open()
        argv = [*self.shell, command] if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise ValueError("empty command")
        env = dict(env or {})
        for name in env:
            if not _ENV_NAME.match(name) or name == EXEC_MARK:
                raise ValueError(f"invalid environment variable name {name!r}")
        limit = self.default_timeout if timeout is None else float(timeout)
        if limit <= 0:
            raise ValueError("timeout must be positive")
        data = stdin.encode() if isinstance(stdin, str) else stdin
        wd = self.workdir if cwd is None else _transfer.sandbox_path(cwd, self.workdir)
        try:
            return await telemetry.sandbox_exec(
                self._exec(
                    argv,
                    timeout=limit,
                    cwd=wd,
                    env=env,
                    stdin=data,
                    output_cap=output_cap or self.output_cap,
                    decode=decode,
                ),
                self,
                argv,
            )
        except SandboxError as exc:
            if self._closed:
                raise SandboxClosed(f"sandbox {self.id} was closed while a command ran") from exc
            raise

    async def run_python(
        self,
        code: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        output_cap: int | None = None,
    ) -> ExecResult:
        """Run ``code`` in a fresh ``python3`` process (no state kept between calls)."""
        if len(code.encode()) <= _INLINE_CODE_LIMIT:
            return await self.exec(
                [self.python, "-c", code], timeout=timeout, output_cap=output_cap
            )
        script = f"{self.scratch_dir}/.thinktank-run-{uuid.uuid4().hex[:8]}.py"
        await self.write_file(script, code)
        runner = 'p="$1"; shift; "$@" "$p"; rc=$?; rm -f -- "$p"; exit $rc'
        return await self.exec(
            ["/bin/sh", "-c", runner, "sh", script, self.python],
            timeout=timeout,
            output_cap=output_cap,
        )

    def python_session(self, *, startup_timeout: float = 30.0) -> PythonSession:
        """A persistent interpreter; variables survive between :meth:`PythonSession.run` calls.

        Use ``async with sb.python_session() as py: await py.run("x = 1")``.
        """
        from thinktank.sandboxes.session import PythonSession

        self._check_open()
        return PythonSession(self, startup_timeout=startup_timeout)

    async def write_file(self, path: str | Path, data: str | bytes, *, mode: int = 0o644) -> str:
        """Write a file (parents created); returns its absolute sandbox path."""
        full = self.path(path)
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if len(payload) > self.max_file_bytes:
            raise FileTooLarge(
                f"{full}: {len(payload)} bytes exceeds the file limit of {self.max_file_bytes} bytes"
            )
        parent, name = full.rsplit("/", 1)
        await self._untar(parent or "/", _transfer.file_tar(name, payload, mode), full)
        return full

    async def read_file(self, path: str | Path, *, max_bytes: int | None = None) -> bytes:
        """Read a regular file. Symlinks are never followed; over ``max_bytes`` raises."""
        full = self.path(path)
        limit = self.max_file_bytes if max_bytes is None else max_bytes
        data = await self._tar_out(full, limit, recursive=False)
        return _transfer.read_single(data, full)

    async def read_text(self, path: str | Path, *, max_bytes: int | None = None) -> str:
        """:meth:`read_file` decoded as UTF-8 with replacement."""
        return (await self.read_file(path, max_bytes=max_bytes)).decode("utf-8", errors="replace")

    async def upload(self, src: str | Path, dest: str | Path = ".") -> str:
        """Copy a host file or directory's contents into sandbox dir ``dest``; returns it."""
        full = self.path(dest)
        await self._untar(full, _transfer.host_tar(Path(src), limit=self.max_transfer_bytes), full)
        return full

    async def download(self, path: str | Path, dest: str | Path) -> Path:
        """Copy a sandbox file or directory into host dir ``dest``; returns the local copy.

        Symlinks are copied as links only when they stay inside; nothing is followed.
        """
        full = self.path(path)
        data = await self._tar_out(full, self.max_transfer_bytes, recursive=True)
        base = Path(dest)
        _transfer.extract_to(data, base)
        return base / (full.rsplit("/", 1)[1] or "root")

    async def _untar(self, directory: str, archive: bytes, shown: str) -> None:
        script = (
            'mkdir -p -- "$1" && exec tar -x --no-same-owner --no-same-permissions -m -C "$1" -f -'
        )
        res = await self.exec(
            ["/bin/sh", "-c", script, "sh", directory],
            stdin=archive,
            timeout=max(60.0, self.default_timeout),
        )
        if res.exit_code != 0:
            raise SandboxFileError(
                f"cannot write {shown}: {res.stderr.strip() or f'exit {res.exit_code}'}"
            )

    async def _tar_out(self, full: str, limit: int, *, recursive: bool) -> bytes:
        parent, name = full.rsplit("/", 1)
        parent, name = parent or "/", name or "."
        flag = "" if recursive else "--no-recursion"
        script = (
            'cd -- "$1" 2>/dev/null || { echo "no such directory: $1" >&2; exit 4; }; '
            '[ -e "$2" ] || [ -L "$2" ] || { echo "no such file: $2" >&2; exit 4; }; '
            'if [ -f "$2" ] && [ ! -L "$2" ] && [ "$(stat -c %s -- "$2")" -gt "$3" ]; then exit 3; fi; '
            f'exec tar {flag} -cf - -- "$2"'
        )
        res = await self.exec(
            ["/bin/sh", "-c", script, "sh", parent, name, str(limit)],
            output_cap=limit + (1 << 20),
            timeout=max(60.0, self.default_timeout),
            decode=False,
        )
        if res.exit_code == 4:
            raise SandboxFileNotFound(f"{full}: no such file or directory in the sandbox")
        if res.exit_code == 3 or res.truncated:
            raise FileTooLarge(f"{full} is larger than the limit of {limit} bytes")
        if res.exit_code != 0:
            raise SandboxFileError(
                f"cannot read {full}: {res.stderr.strip() or f'exit {res.exit_code}'}"
            )
        return res.stdout_bytes

    async def reset(self) -> bool:
        """Kill every process and wipe the writable dirs; False if a clean state is not assured."""
        self._check_open()
        for session in list(self._sessions):
            await session.close()
        return await self._reset()

    async def close(self) -> None:
        """Destroy the sandbox (idempotent). Later operations raise :class:`SandboxClosed`."""
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions):
            await session.close()
        await self._shutdown()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.id} {state}>"
