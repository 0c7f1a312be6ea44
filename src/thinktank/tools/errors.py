"""Errors raised by tools, placed in the hierarchy of :mod:`thinktank.errors`.

Who must act decides the base class: a blocked URL or a binary page is feedback
for the model (it asked for something it cannot have); a search backend that is
down or rate-limited is infrastructure. Every one of them reaches the model as an
error :class:`~thinktank.tools.base.ToolResult` when raised inside a tool.
"""

from __future__ import annotations

from thinktank.errors import InfrastructureError, ToolCallError


class BlockedURL(ToolCallError):
    """The SSRF guard refused a URL (scheme, address class, encoding trick, redirect)."""


class UnsupportedContent(ToolCallError):
    """A fetched page is not something the tool can read (binary, unknown type)."""


class FetchError(InfrastructureError):
    """A page could not be fetched: network error, timeout, HTTP error status."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class SearchError(InfrastructureError):
    """A search backend failed; ``backend`` names it."""

    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend


class SearchUnavailable(SearchError):
    """A transient failure (5xx, network error, timeout); retried, then the next backend."""


class SearchRateLimited(SearchUnavailable):
    """The backend answered 429 (or its library reported a rate limit).

    ``retry_after`` is the server's requested wait in seconds, when it gave one.
    """

    def __init__(
        self, message: str, *, backend: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, backend=backend)
        self.retry_after = retry_after


class SearchRequestError(SearchError):
    """The backend refused the request (4xx other than 429, e.g. a bad API key); not retried."""


class MCPError(InfrastructureError):
    """An MCP server could not be started, initialised or reached."""
