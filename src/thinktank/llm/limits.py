"""A pluggable, process-wide limit on requests in flight per endpoint.

Every :class:`~thinktank.llm.openai.OpenAICompatModel` request holds its
per-endpoint semaphore, which bounds one *process*. When many processes call the
same endpoint (workers of a cluster), a limiter installed here is consulted as
well, inside that semaphore, for the duration of each HTTP attempt:

    set_endpoint_limiter(my_limiter)       # e.g. thinktank.cluster's ClusterLimiter
    ...
    async with endpoint_slot(base_url, concurrency):
        ...                                 # the request

A limiter is any object with ``slot(endpoint, limit)`` returning an async context
manager; ``limit`` is the model's own ``concurrency``, so a cluster-wide limiter
keeps the whole cluster to what one process would be allowed. With no limiter
installed (the default) :func:`endpoint_slot` costs next to nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol


class EndpointLimiter(Protocol):
    """Grants slots for requests to an endpoint; shared by whoever installs it."""

    def slot(self, endpoint: str, limit: int) -> AbstractAsyncContextManager[object]:
        """Hold one of ``limit`` slots of ``endpoint`` while the context is open."""
        ...


class _NoLimit:
    """The context manager used when no limiter is installed."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


_NO_LIMIT = _NoLimit()
_limiter: EndpointLimiter | None = None


def set_endpoint_limiter(limiter: EndpointLimiter | None) -> EndpointLimiter | None:
    """Install ``limiter`` for every model request of this process (``None`` removes
    it); returns the one it replaces."""
    global _limiter
    previous, _limiter = _limiter, limiter
    return previous


def get_endpoint_limiter() -> EndpointLimiter | None:
    """The installed limiter, if any."""
    return _limiter


def endpoint_slot(endpoint: str, limit: int) -> AbstractAsyncContextManager[object]:
    """A slot of ``endpoint`` from the installed limiter (a no-op without one)."""
    limiter = _limiter
    if limiter is None:
        return _NO_LIMIT
    return limiter.slot(endpoint, limit)


__all__ = ["EndpointLimiter", "endpoint_slot", "get_endpoint_limiter", "set_endpoint_limiter"]


# One in-flight limit per (event loop, endpoint), shared by every model object on it.
_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def endpoint_semaphore(base_url: str, concurrency: int) -> asyncio.Semaphore:
    """The one in-flight limit of this process for ``base_url`` in the running loop."""
    loop = asyncio.get_running_loop()
    per_loop = _LIMITS.setdefault(loop, {})
    sem = per_loop.get(base_url)
    if sem is None:
        sem = per_loop[base_url] = asyncio.Semaphore(concurrency)
    return sem
