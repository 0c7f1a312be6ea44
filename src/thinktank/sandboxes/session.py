"""A persistent Python interpreter inside a sandbox, for code-interpreter agents.

Variables, imports and functions persist between :meth:`PythonSession.run` calls. The
interpreter (:mod:`thinktank.sandboxes._pyserver`) runs as a long-lived process of the
sandbox and speaks a length-prefixed JSON protocol over its stdin/stdout.

Timeouts: the interpreter interrupts a cell itself (state is kept). If it does not
answer within a grace period after that (a hung C call, a blocked signal), the session
is killed and restarted, and the result says ``session_restarted`` (state is lost).
The same happens when the interpreter dies (OOM kill, ``os._exit``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from thinktank import telemetry
from thinktank.sandboxes.errors import SandboxClosed, SandboxError
from thinktank.sandboxes.types import CellResult

if TYPE_CHECKING:
    from thinktank.sandboxes.base import ProcessChannel, Sandbox

SERVER_SOURCE = Path(__file__).with_name("_pyserver.py").read_text()
HARD_GRACE_S = 5.0


class PythonSession:
    """A stateful interpreter bound to one sandbox. Cells run one at a time."""

    def __init__(self, sandbox: Sandbox, *, startup_timeout: float = 30.0) -> None:
        self.sandbox = sandbox
        self.startup_timeout = startup_timeout
        self._channel: ProcessChannel | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self.pid: int | None = None
        self.restarts = 0

    @property
    def alive(self) -> bool:
        """True while an interpreter process is attached."""
        return self._channel is not None

    async def start(self) -> PythonSession:
        """Start the interpreter (idempotent)."""
        if self._closed:
            raise SandboxClosed("this Python session is closed")
        self.sandbox._check_open()
        if self._channel is None:
            await self._launch()
        return self

    async def _launch(self) -> None:
        channel = await self.sandbox._spawn(
            [self.sandbox.python, "-u", "-c", SERVER_SOURCE], env={}
        )
        try:
            hello = await asyncio.wait_for(_recv(channel), self.startup_timeout)
        except (TimeoutError, EOFError, ValueError) as exc:
            await channel.aclose()
            raise SandboxError(
                f"the Python session did not start ({type(exc).__name__}); is {self.sandbox.python} installed?"
            ) from exc
        self.pid = int(hello.get("pid", 0)) or None
        self._channel = channel
        self.sandbox._sessions.add(self)

    async def run(
        self,
        code: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        output_cap: int | None = None,
    ) -> CellResult:
        """Run one cell. The last expression's value is echoed to stdout, like a REPL."""
        return await telemetry.sandbox_cell(
            self._run(code, timeout, output_cap), self.sandbox, code
        )

    async def _run(
        self,
        code: str,
        timeout: float | None,  # noqa: ASYNC109
        output_cap: int | None,
    ) -> CellResult:
        if self._closed:
            raise SandboxClosed("this Python session is closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.start()
            assert self._channel is not None
            limit = self.sandbox.default_timeout if timeout is None else float(timeout)
            cap = output_cap or self.sandbox.output_cap
            start = time.monotonic()
            request = {"code": code, "timeout": limit, "cap": cap}
            try:
                await _send(self._channel, request)
                reply = await asyncio.wait_for(_recv(self._channel), limit + HARD_GRACE_S)
            except TimeoutError:
                await self._discard()
                return CellResult(
                    exit_code=137,
                    timed_out=True,
                    session_restarted=True,
                    error=f"TimeoutError: the cell ignored its {limit}s timeout; the interpreter was killed and its state lost",
                    duration_s=time.monotonic() - start,
                )
            except (EOFError, ConnectionError, SandboxError) as exc:
                if self.sandbox.closed:
                    raise SandboxClosed("the sandbox was closed while a cell ran") from exc
                oom = await self.sandbox._oom_happened()
                await self._discard()
                reason = "it ran out of memory (OOM kill)" if oom else "its process died"
                return CellResult(
                    exit_code=137 if oom else 1,
                    oom_killed=oom,
                    session_restarted=True,
                    error=f"SessionDied: {reason}; the interpreter state was lost",
                    duration_s=time.monotonic() - start,
                )
            except BaseException:
                await self._discard()  # cancelled mid-cell: the state is unknown
                raise
            out, err = base64.b64decode(reply["stdout"]), base64.b64decode(reply["stderr"])
            return CellResult.from_bytes(  # type: ignore[return-value]
                0 if reply["ok"] else 1,
                out,
                err,
                timed_out=bool(reply["timed_out"]),
                truncated=bool(reply["truncated"]),
                error=reply["error"],
                duration_s=time.monotonic() - start,
            )

    async def _discard(self) -> None:
        channel, self._channel = self._channel, None
        self.restarts += 1
        if channel is not None:
            await asyncio.shield(channel.aclose())

    async def restart(self) -> None:
        """Kill the interpreter and start a fresh one (all state is lost)."""
        await self._discard()
        await self.start()

    async def close(self) -> None:
        """Stop the interpreter (idempotent)."""
        self._closed = True
        self.sandbox._sessions.discard(self)
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.aclose()

    async def __aenter__(self) -> PythonSession:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _send(channel: ProcessChannel, obj: dict[str, Any]) -> None:
    blob = json.dumps(obj).encode()
    await channel.write(struct.pack(">I", len(blob)) + blob)


async def _recv(channel: ProcessChannel) -> dict[str, Any]:
    (size,) = struct.unpack(">I", await channel.read(4))
    if size > 64 << 20:
        raise EOFError("the Python session sent a malformed frame")
    result: dict[str, Any] = json.loads(await channel.read(size))
    return result
