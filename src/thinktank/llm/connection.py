"""Connection failures in words: refused, unknown host, which timeout, and whether an
address is loopback (the simulator, the test suite's only reachable addresses)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx
import httpx2

# The SDK's own HTTP client is httpx2; an injected client may be (legacy) httpx.
_READ_TIMEOUT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx2.ReadTimeout, httpx2.WriteTimeout)
_POOL_TIMEOUT = (httpx.PoolTimeout, httpx2.PoolTimeout)
_CONNECT_TIMEOUT = (httpx.ConnectTimeout, httpx2.ConnectTimeout, TimeoutError)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, ``__context__`` and aiohttp's
    ``os_error``), outermost first."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "os_error", None)]
    return out


def is_refused(exc: BaseException) -> bool:
    """True when ``exc`` comes from a refused connection (nothing listens at the address).

    The transports wrap it differently (the aiohttp transport even maps it to a connect
    *timeout*), so the whole cause chain is searched for the operating system's error.
    """
    return any(isinstance(e, ConnectionRefusedError) for e in cause_chain(exc))


def is_read_timeout(exc: BaseException) -> bool:
    """True when ``exc`` comes from a read timeout: connected, but no answer in time."""
    return any(isinstance(e, (httpx.ReadTimeout, httpx2.ReadTimeout)) for e in cause_chain(exc))


def describe_connection_failure(exc: BaseException, base_url: str, timeout: httpx.Timeout) -> str:
    """What went wrong reaching ``base_url``, in words: refused, unknown host, or which timeout."""
    chain = cause_chain(exc)
    if is_refused(exc):
        return f"connection refused by {base_url}: nothing is listening at that address"
    if any(isinstance(e, socket.gaierror) for e in chain):
        host = urlsplit(base_url).hostname
        return f"cannot resolve the host {host!r} of {base_url}"
    if any(isinstance(e, _READ_TIMEOUT) for e in chain):
        return f"{base_url} did not answer within the {timeout.read:g} s read timeout"
    if any(isinstance(e, _POOL_TIMEOUT) for e in chain):
        return f"no free connection to {base_url} within {timeout.pool:g} s"
    oserr = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
    if oserr is not None:
        return f"cannot connect to {base_url}: {oserr.strerror or oserr}"
    if any(isinstance(e, _CONNECT_TIMEOUT) for e in chain):
        return f"no connection to {base_url} within the {timeout.connect:g} s connect timeout"
    inner = chain[-1]
    return f"cannot reach {base_url}: {type(inner).__name__}: {inner}"
