"""SearxNG backend: the JSON API of a SearxNG instance (``/search?q=...&format=json``).

The instance must enable the JSON format (``search.formats: [html, json]`` in its
``settings.yml``). :func:`~thinktank.tools.web.serve.serve_corpus` speaks the same
API over a local corpus.
"""

from __future__ import annotations

import os
from typing import Literal

import httpx

from thinktank.errors import ConfigError
from thinktank.tools.errors import SearchUnavailable
from thinktank.tools.web.backends.base import BackendConfig, HTTPBackend, SearchResult

ENV_VAR = "SEARXNG_URL"


class SearxNGConfig(BackendConfig):
    """A SearxNG instance."""

    type: Literal["searxng"] = "searxng"
    base_url: str | None = None
    """Instance URL, e.g. ``http://localhost:8888``; default ``$SEARXNG_URL``."""
    categories: str | None = None
    """Comma-separated SearxNG categories (default: the instance's)."""
    engines: str | None = None
    """Comma-separated engines to use (default: the instance's)."""
    language: str | None = None
    """Search language such as ``en`` (default: the instance's)."""

    def build(self, *, transport: httpx.AsyncBaseTransport | None = None) -> SearxNGBackend:
        base = self.base_url or os.environ.get(ENV_VAR, "").strip()
        if not base:
            raise ConfigError(
                f"the searxng search backend needs base_url or the {ENV_VAR} environment variable"
            )
        return SearxNGBackend(self, base, transport=transport)


class SearxNGBackend(HTTPBackend):
    """Queries ``<base_url>/search`` and reads ``results[].{title,url,content}``."""

    name = "searxng"

    def __init__(
        self,
        config: SearxNGConfig,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=config.timeout_s, transport=transport)
        self.config = config
        self.endpoint = base_url.rstrip("/") + "/search"

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        params = {"q": query, "format": "json"}
        for key in ("categories", "engines", "language"):
            value = getattr(self.config, key)
            if value:
                params[key] = value
        data = await self.request_json("GET", self.endpoint, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise SearchUnavailable("searxng answered without a results list", backend=self.name)
        return [
            SearchResult(
                title=str(r.get("title") or r["url"]),
                url=str(r["url"]),
                snippet=str(r.get("content") or ""),
            )
            for r in data["results"][:max_results]
            if isinstance(r, dict) and r.get("url")
        ]
