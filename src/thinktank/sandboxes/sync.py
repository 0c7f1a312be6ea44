"""Blocking sandboxes for scripts and notebooks.

:class:`SyncSandbox` runs an async sandbox on a private event loop in a background
thread, so it works the same from plain scripts and from inside a running loop (a
notebook), and Python sessions keep their state between calls::

    with SyncSandbox({"type": "docker"}) as sb:
        print(sb.exec("python3 -V").stdout)
        py = sb.python_session()
        py.run("x = 2")
        print(py.run("x * 21").stdout)  # 42
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel

from thinktank.sandboxes.base import Sandbox
from thinktank.sandboxes.errors import SandboxClosed
from thinktank.sandboxes.session import PythonSession
from thinktank.sandboxes.types import CellResult, ExecResult

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="thinktank-sync-sandbox", daemon=True
        )
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            coro.close()
            raise SandboxClosed("this sandbox is closed; create a new one")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class SyncPythonSession:
    """Blocking face of a :class:`~thinktank.sandboxes.session.PythonSession`."""

    def __init__(self, runner: _LoopThread, session: PythonSession) -> None:
        self._run, self.session = runner, session

    def run(self, code: str, *, timeout: float | None = None) -> CellResult:
        """Run one cell (see :meth:`PythonSession.run`)."""
        return self._run.call(self.session.run(code, timeout=timeout))

    def close(self) -> None:
        """Stop the interpreter."""
        self._run.call(self.session.close())


class SyncSandbox:
    """A sandbox with blocking methods; close it (or use ``with``)."""

    def __init__(
        self, config: dict[str, Any] | BaseModel | None = None, *, sandbox: Sandbox | None = None
    ) -> None:
        from thinktank.sandboxes.provider import open_sandbox

        self._run = _LoopThread()
        try:
            self.sandbox: Sandbox = sandbox or self._run.call(open_sandbox(config))
        except BaseException:
            self._run.stop()
            raise

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | bytes | None = None,
    ) -> ExecResult:
        """Blocking :meth:`Sandbox.exec`."""
        return self._run.call(
            self.sandbox.exec(command, timeout=timeout, cwd=cwd, env=env, stdin=stdin)
        )

    def run_python(self, code: str, *, timeout: float | None = None) -> ExecResult:
        """Blocking :meth:`Sandbox.run_python`."""
        return self._run.call(self.sandbox.run_python(code, timeout=timeout))

    def python_session(self) -> SyncPythonSession:
        """A started persistent interpreter."""
        return SyncPythonSession(self._run, self._run.call(self.sandbox.python_session().start()))

    def write_file(self, path: str | Path, data: str | bytes, *, mode: int = 0o644) -> str:
        """Blocking :meth:`Sandbox.write_file`."""
        return self._run.call(self.sandbox.write_file(path, data, mode=mode))

    def read_file(self, path: str | Path, *, max_bytes: int | None = None) -> bytes:
        """Blocking :meth:`Sandbox.read_file`."""
        return self._run.call(self.sandbox.read_file(path, max_bytes=max_bytes))

    def read_text(self, path: str | Path) -> str:
        """Blocking :meth:`Sandbox.read_text`."""
        return self._run.call(self.sandbox.read_text(path))

    def upload(self, src: str | Path, dest: str | Path = ".") -> str:
        """Blocking :meth:`Sandbox.upload`."""
        return self._run.call(self.sandbox.upload(src, dest))

    def download(self, path: str | Path, dest: str | Path) -> Path:
        """Blocking :meth:`Sandbox.download`."""
        return self._run.call(self.sandbox.download(path, dest))

    def close(self) -> None:
        """Destroy the sandbox and stop the background loop (idempotent)."""
        if self._run.thread.is_alive():
            try:
                self._run.call(self.sandbox.close())
            finally:
                self._run.stop()

    def __enter__(self) -> SyncSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
