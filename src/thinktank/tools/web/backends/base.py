"""The search-backend contract and what HTTP backends share.

A backend implements one method, :meth:`SearchBackend.search`, and reports failures
with the :class:`~thinktank.tools.errors.SearchError` family so the caller
(:class:`~thinktank.tools.web.search.WebSearch`) can retry transient ones
(:class:`~thinktank.tools.errors.SearchUnavailable`, including 429s with their
``Retry-After``) and fall back to the next backend. Each backend module also holds
its pydantic config (``type`` discriminator, ``build()``).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from thinktank._strict import StrictModel
from thinktank.errors import MissingCredential
from thinktank.llm.retry import parse_retry_after
from thinktank.tools.errors import SearchRateLimited, SearchRequestError, SearchUnavailable


class SearchResult(BaseModel):
    """One web search hit."""

    title: str
    url: str
    snippet: str = ""


class SearchBackend(ABC):
    """A search engine: ``await backend.search(query, max_results)``."""

    name: str = "search"

    @abstractmethod
    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        """Up to ``max_results`` results, best first. Raise ``SearchRateLimited`` on
        rate limits, ``SearchUnavailable`` on transient failures and
        ``SearchRequestError`` when retrying cannot help."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""


class BackendConfig(StrictModel):
    """Fields every backend config shares."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    timeout_s: float = 15.0
    """Seconds per request (connect and read)."""


def api_key(configured: SecretStr | None, env_var: str, backend: str) -> str:
    """The configured key, else ``$env_var``; a missing key names the variable to set."""
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise MissingCredential(
            f"the {backend} search backend needs an API key: set the {env_var} environment "
            f"variable (or pass api_key in its config)"
        )
    return value


class HTTPBackend(SearchBackend):
    """A backend speaking JSON over HTTP; translates statuses into search errors."""

    def __init__(
        self, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout_s, transport=transport, follow_redirects=True
        )

    async def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request; return its JSON body or raise the matching ``SearchError``."""
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise SearchUnavailable(f"{self.name} timed out", backend=self.name) from exc
        except httpx.HTTPError as exc:
            raise SearchUnavailable(
                f"{self.name} unreachable: {type(exc).__name__}: {exc}", backend=self.name
            ) from exc
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers)
            raise SearchRateLimited(
                f"{self.name} rate-limited the request (HTTP 429)",
                backend=self.name,
                retry_after=wait,
            )
        if status >= 500:
            raise SearchUnavailable(f"{self.name} failed with HTTP {status}", backend=self.name)
        if status in (401, 403):
            raise SearchRequestError(
                f"{self.name} rejected the credentials (HTTP {status}); check the API key",
                backend=self.name,
            )
        if status >= 400:
            raise SearchRequestError(
                f"{self.name} refused the request (HTTP {status}): {response.text[:200]}",
                backend=self.name,
            )
        try:
            return response.json()
        except ValueError as exc:
            raise SearchUnavailable(
                f"{self.name} answered with invalid JSON", backend=self.name
            ) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
