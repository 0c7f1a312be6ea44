"""Warm pool: pre-started sandboxes handed out as leases, never handed over dirty.

``acquire()`` returns a :class:`PooledSandbox` at once when one is idle. Closing the
lease returns the sandbox: with ``reuse="reset"`` every process is killed and the
writable dirs are wiped *and verified empty* before it goes back to the idle set;
anything doubtful (failed reset, a backend that cannot reset) is discarded and
replaced. The old lease object stays closed, so a stale reference cannot touch the
next task's sandbox. At most ``max_size`` sandboxes exist at once; ``acquire`` waits
beyond that. A pool belongs to the event loop that first used it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from thinktank.sandboxes.base import ProcessChannel, Sandbox
from thinktank.sandboxes.errors import SandboxClosed, SandboxError, SandboxTimeout
from thinktank.sandboxes.provider import SandboxProvider
from thinktank.sandboxes.types import ExecResult

if TYPE_CHECKING:
    from thinktank.sandboxes.config import PoolConfig

log = logging.getLogger(__name__)


class PooledSandbox(Sandbox):
    """A lease on a pooled sandbox; ``close()`` gives it back to the pool."""

    backend = "pool"

    def __init__(self, pool: WarmPool, inner: Sandbox) -> None:
        super().__init__(
            workdir=inner.workdir,
            scratch_dir=inner.scratch_dir,
            default_timeout=inner.default_timeout,
            output_cap=inner.output_cap,
            max_file_bytes=inner.max_file_bytes,
            max_transfer_bytes=inner.max_transfer_bytes,
            shell=inner.shell,
            python=inner.python,
            sandbox_id=inner.id,
        )
        self.inner = inner
        self._pool = pool

    def path(self, path: Any) -> str:
        return self.inner.path(path)

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
        return await self.inner._exec(
            argv,
            timeout=timeout,
            cwd=cwd,
            env=env,
            stdin=stdin,
            output_cap=output_cap,
            decode=decode,
        )

    async def _spawn(self, argv: list[str], *, env: dict[str, str]) -> ProcessChannel:
        return await self.inner._spawn(argv, env=env)

    async def _oom_happened(self) -> bool:
        return await self.inner._oom_happened()

    async def _reset(self) -> bool:
        return await self.inner.reset()

    async def _shutdown(self) -> None:
        await self._pool._release(self.inner)


class WarmPool(SandboxProvider):
    """Keeps ``size`` sandboxes of a backend started and idle; bounded by ``max_size``."""

    def __init__(self, backend: SandboxProvider, config: PoolConfig) -> None:
        self.backend = backend
        self.config = config
        self._idle: collections.deque[tuple[Sandbox, float]] = collections.deque()
        self._leased = self._starting = self._recycling = self._waiters = 0
        self._cond: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._start_sem: asyncio.Semaphore | None = None
        self._closed = False
        self._last_error: BaseException | None = None
        self._failures = 0
        self.stats = collections.Counter[str]()
        ttl = getattr(getattr(backend, "config", None), "ttl_s", None)
        self._born: dict[str, float] = {}
        self._max_age = float(ttl) / 2 if ttl else float("inf")

    @property
    def _c(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
            self._start_sem = asyncio.Semaphore(self.config.start_concurrency)
        return self._cond

    @property
    def total(self) -> int:
        """Sandboxes alive or being started/recycled."""
        return len(self._idle) + self._leased + self._starting + self._recycling

    def snapshot(self) -> dict[str, int]:
        """Current counts (idle, leased, starting, recycling) plus lifetime counters."""
        counts = {
            "idle": len(self._idle),
            "leased": self._leased,
            "starting": self._starting,
            "recycling": self._recycling,
        }
        return counts | dict(self.stats)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fill(self) -> None:
        """Start sandboxes until ``size`` are idle or starting (within ``max_size``)."""
        want = self.config.size + self._waiters - len(self._idle) - self._starting
        room = self.config.max_size - self.total
        for _ in range(max(0, min(want, room))):
            self._starting += 1
            self._spawn_task(self._start_one())

    async def _start_one(self) -> None:
        assert self._start_sem is not None
        sb: Sandbox | None = None
        try:
            async with self._start_sem:
                sb = await self.backend.create()
        except Exception as exc:
            self._last_error, self._failures = exc, self._failures + 1
            log.warning("pool: starting a sandbox failed: %s", exc)
        async with self._c:
            self._starting -= 1
            if sb is not None:
                self._failures = 0
                self.stats["started"] += 1
                if self._closed:
                    await sb.close()
                else:
                    self._born[sb.id] = time.monotonic()
                    self._idle.append((sb, self._born[sb.id]))
            self._c.notify_all()

    async def start(self, *, wait: bool = True) -> WarmPool:
        """Warm up: start ``size`` sandboxes (and wait for them unless ``wait=False``)."""
        async with self._c:
            self._fill()
            while wait and self._starting and not self._closed:
                await self._c.wait()
        if wait and self.config.size and not self._idle and self._last_error is not None:
            raise self._last_error
        return self

    async def wait_ready(self, count: int | None = None, timeout: float = 300.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` (default: ``size``) sandboxes are idle, starting them as needed."""
        want = min(self.config.size if count is None else count, self.config.max_size)
        async with self._c:
            self._fill()
            await asyncio.wait_for(
                self._c.wait_for(lambda: len(self._idle) >= want or self._closed), timeout
            )

    async def acquire(self, timeout: float | None = None) -> PooledSandbox:  # noqa: ASYNC109
        """Lease an idle sandbox, starting one if needed; wait up to ``timeout`` seconds."""
        limit = self.config.acquire_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        async with self._c:
            self._waiters += 1
            try:
                while True:
                    if self._closed:
                        raise SandboxClosed("the sandbox pool is closed")
                    if self._idle:
                        sb, born = self._idle.popleft()
                        if time.monotonic() - born > self._max_age:
                            self._spawn_task(sb.close())  # too close to its TTL: replace it
                            self.stats["expired"] += 1
                            continue
                        self._leased += 1
                        break
                    if self._failures >= 3 and self._last_error is not None:
                        self._failures = 0  # the next acquire tries again
                        raise SandboxError(
                            f"the pool cannot start sandboxes: {self._last_error}"
                        ) from self._last_error
                    self._fill()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise SandboxTimeout(
                            f"no pooled sandbox became free within {limit:.0f}s ({self.snapshot()})"
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._c.wait(), remaining)
            finally:
                self._waiters -= 1
            self.stats["acquired"] += 1
            self._fill()
        return PooledSandbox(self, sb)

    async def create(self) -> PooledSandbox:
        """Same as :meth:`acquire` (a pool is a provider)."""
        return await self.acquire()

    async def _release(self, sb: Sandbox) -> None:
        async with self._c:
            self._leased -= 1
            self._recycling += 1
        self._spawn_task(self._recycle(sb))

    async def _recycle(self, sb: Sandbox) -> None:
        keep = False
        try:
            if not self._closed and self.config.reuse == "reset" and not sb.closed:
                keep = await sb.reset()
        except Exception as exc:
            log.warning("pool: reset of %s failed: %s", sb.id, exc)
        async with self._c:
            self._recycling -= 1
            keep = keep and not self._closed and len(self._idle) < self.config.size + self._waiters
            if keep:
                self._idle.append((sb, self._born.get(sb.id, time.monotonic())))
                self.stats["recycled"] += 1
            self._c.notify_all()
        if not keep:
            self._born.pop(sb.id, None)
            self.stats["discarded"] += 1
            with contextlib.suppress(Exception):
                await sb.close()
            async with self._c:
                if not self._closed:
                    self._fill()
                self._c.notify_all()

    async def aclose(self) -> None:
        """Close idle sandboxes now; leased ones are closed when their lease is."""
        async with self._c:
            self._closed = True
            idle = [sb for sb, _ in self._idle]
            self._idle.clear()
            self._c.notify_all()
        await asyncio.gather(*(sb.close() for sb in idle), return_exceptions=True)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
