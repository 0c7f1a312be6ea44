"""Brave Search backend: ``GET /res/v1/web/search`` with an ``X-Subscription-Token``."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import SecretStr

from thinktank.tools.web.backends.base import BackendConfig, HTTPBackend, SearchResult, api_key

ENV_VAR = "BRAVE_API_KEY"


class BraveConfig(BackendConfig):
    """The Brave Search web API."""

    type: Literal["brave"] = "brave"
    api_key: SecretStr | None = None
    """Subscription token; default ``$BRAVE_API_KEY``."""
    country: str | None = None
    """Two-letter country code to bias results (default: Brave's)."""
    base_url: str = "https://api.search.brave.com/res/v1/web/search"
    """Endpoint (change for a proxy or a test server)."""

    def build(self, *, transport: httpx.AsyncBaseTransport | None = None) -> BraveBackend:
        return BraveBackend(self, api_key(self.api_key, ENV_VAR, "brave"), transport=transport)


class BraveBackend(HTTPBackend):
    """Reads ``web.results[].{title,url,description}``."""

    name = "brave"

    def __init__(
        self, config: BraveConfig, key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(timeout_s=config.timeout_s, transport=transport)
        self.config = config
        self._key = key

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        params: dict[str, str | int] = {"q": query, "count": min(max_results, 20)}
        if self.config.country:
            params["country"] = self.config.country
        data = await self.request_json(
            "GET",
            self.config.base_url,
            params=params,
            headers={"X-Subscription-Token": self._key, "Accept": "application/json"},
        )
        web = data.get("web") if isinstance(data, dict) else None
        rows = web.get("results") if isinstance(web, dict) else None
        return [
            SearchResult(
                title=str(r.get("title") or r["url"]),
                url=str(r["url"]),
                snippet=str(r.get("description") or ""),
            )
            for r in (rows or [])[:max_results]
            if isinstance(r, dict) and r.get("url")
        ]
