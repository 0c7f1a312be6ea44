"""Lifecycle: a provider turns a config into started sandboxes.

Backends (:class:`~thinktank.sandboxes.docker.DockerProvider`,
:class:`~thinktank.sandboxes.local.LocalProvider`) and the warm pool
(:class:`~thinktank.sandboxes.pool.WarmPool`) all implement :class:`SandboxProvider`,
so code that needs sandboxes takes a provider and does not care which::

    async with provider.sandbox() as sb:      # created (or leased) here, closed after
        await sb.exec("echo hi")
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from thinktank.sandboxes.base import Sandbox


class SandboxProvider(ABC):
    """Creates started sandboxes. A pool hands out leases; closing one returns it."""

    config: Any

    @abstractmethod
    async def create(self) -> Sandbox:
        """A started sandbox; the caller must ``close()`` it (or use :meth:`sandbox`)."""

    async def create_many(self, n: int) -> list[Sandbox]:
        """Start ``n`` sandboxes concurrently (fan-out). If any start fails, the ones that
        started are closed and the first error is raised, so nothing leaks."""
        results = await asyncio.gather(*(self.create() for _ in range(n)), return_exceptions=True)
        started = [r for r in results if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await asyncio.gather(*(sb.close() for sb in started), return_exceptions=True)
            raise errors[0]
        return started

    async def aclose(self) -> None:
        """Release shared resources (a pool's idle sandboxes). Default: nothing to do."""
        return None

    @contextlib.asynccontextmanager
    async def sandbox(self) -> AsyncIterator[Sandbox]:
        """``async with provider.sandbox() as sb`` — created, then closed whatever happens."""
        sb = await self.create()
        try:
            yield sb
        finally:
            await sb.close()

    async def __aenter__(self) -> SandboxProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def provider_from_config(config: dict[str, Any] | BaseModel | None = None) -> SandboxProvider:
    """Validate ``config`` (default: Docker with secure defaults) and build its provider."""
    from thinktank.sandboxes.config import load_sandbox_config

    return load_sandbox_config(config or {"type": "docker"}).build()


async def open_sandbox(config: dict[str, Any] | BaseModel | None = None) -> Sandbox:
    """One sandbox from a config, started. Close it when done (it is an async context manager)."""
    return await provider_from_config(config).create()
