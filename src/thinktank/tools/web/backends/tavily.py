"""Tavily backend: ``POST https://api.tavily.com/search`` with a bearer API key."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import SecretStr

from thinktank.tools.web.backends.base import BackendConfig, HTTPBackend, SearchResult, api_key

ENV_VAR = "TAVILY_API_KEY"


class TavilyConfig(BackendConfig):
    """The Tavily search API."""

    type: Literal["tavily"] = "tavily"
    api_key: SecretStr | None = None
    """API key; default ``$TAVILY_API_KEY``."""
    search_depth: Literal["basic", "advanced"] = "basic"
    """``advanced`` costs more credits and returns better snippets."""
    base_url: str = "https://api.tavily.com"
    """API root (change for a proxy or a test server)."""

    def build(self, *, transport: httpx.AsyncBaseTransport | None = None) -> TavilyBackend:
        return TavilyBackend(self, api_key(self.api_key, ENV_VAR, "tavily"), transport=transport)


class TavilyBackend(HTTPBackend):
    """Reads ``results[].{title,url,content}``."""

    name = "tavily"

    def __init__(
        self, config: TavilyConfig, key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(timeout_s=config.timeout_s, transport=transport)
        self.config = config
        self._key = key

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        data = await self.request_json(
            "POST",
            self.config.base_url.rstrip("/") + "/search",
            json={
                "query": query,
                "max_results": max_results,
                "search_depth": self.config.search_depth,
            },
            headers={"Authorization": f"Bearer {self._key}"},
        )
        rows = data.get("results") if isinstance(data, dict) else None
        return [
            SearchResult(
                title=str(r.get("title") or r["url"]),
                url=str(r["url"]),
                snippet=str(r.get("content") or ""),
            )
            for r in (rows or [])[:max_results]
            if isinstance(r, dict) and r.get("url")
        ]
