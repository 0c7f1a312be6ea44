"""An httpx transport whose sockets only ever connect to addresses the SSRF guard vetted.

:class:`GuardedBackend` is an httpcore network backend: httpcore asks it to
``connect_tcp(host, port)`` and it resolves ``host`` through the policy
(:meth:`SSRFPolicy.vet`), then opens the socket to one of the vetted addresses.
Nothing else resolves the name, so there is no gap for DNS rebinding. The URL is
never rewritten: the ``Host`` header, TLS SNI and certificate checks still use the
real host name, because httpcore does TLS on the stream this backend returns.

:class:`PinnedTransport` is a small httpx transport over an httpcore connection
pool that uses this backend. It has no proxy support on purpose: a proxy would
make the connection (and the name resolution) somewhere the guard cannot see.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpcore
import httpx

from thinktank.tools.errors import BlockedURL
from thinktank.tools.web.ssrf import Resolver, SSRFPolicy, SystemResolver

_MAPPED = (
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "TimeoutException",
    "ConnectError",
    "ReadError",
    "WriteError",
    "NetworkError",
    "RemoteProtocolError",
    "LocalProtocolError",
    "ProtocolError",
    "UnsupportedProtocol",
    "ProxyError",
)


@contextmanager
def _map_errors(request: httpx.Request | None = None) -> Iterator[None]:
    """Re-raise httpcore errors as the httpx exception of the same name."""
    try:
        yield
    except Exception as exc:
        for cls in type(exc).__mro__:
            if cls.__module__.startswith("httpcore") and cls.__name__ in _MAPPED:
                raise getattr(httpx, cls.__name__)(str(exc), request=request) from exc
        raise


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve and vet every connection, then connect to a vetted address.

    ``inner`` does the actual connecting (default: httpcore's own backend); tests
    pass a recording backend that refuses anything but loopback.
    """

    def __init__(
        self,
        policy: SSRFPolicy,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver or SystemResolver()
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.policy.vet(host, port, self.resolver)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedURL("refused: fetching over a Unix socket is not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _map_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only through a :class:`GuardedBackend`."""

    def __init__(
        self,
        policy: SSRFPolicy,
        *,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 20,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=GuardedBackend(policy, resolver, network_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _map_errors(request):
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Stream(response.stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
