"""Serper backend (Google results): ``POST https://google.serper.dev/search`` with ``X-API-KEY``."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import SecretStr

from thinktank.tools.web.backends.base import BackendConfig, HTTPBackend, SearchResult, api_key

ENV_VAR = "SERPER_API_KEY"


class SerperConfig(BackendConfig):
    """The serper.dev Google search API."""

    type: Literal["serper"] = "serper"
    api_key: SecretStr | None = None
    """API key; default ``$SERPER_API_KEY``."""
    gl: str | None = None
    """Country code for Google (``gl``), e.g. ``us``."""
    hl: str | None = None
    """Interface language for Google (``hl``), e.g. ``en``."""
    base_url: str = "https://google.serper.dev/search"
    """Endpoint (change for a proxy or a test server)."""

    def build(self, *, transport: httpx.AsyncBaseTransport | None = None) -> SerperBackend:
        return SerperBackend(self, api_key(self.api_key, ENV_VAR, "serper"), transport=transport)


class SerperBackend(HTTPBackend):
    """Reads ``organic[].{title,link,snippet}``."""

    name = "serper"

    def __init__(
        self, config: SerperConfig, key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(timeout_s=config.timeout_s, transport=transport)
        self.config = config
        self._key = key

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        body: dict[str, str | int] = {"q": query, "num": max_results}
        for key in ("gl", "hl"):
            value = getattr(self.config, key)
            if value:
                body[key] = value
        data = await self.request_json(
            "POST", self.config.base_url, json=body, headers={"X-API-KEY": self._key}
        )
        rows = data.get("organic") if isinstance(data, dict) else None
        return [
            SearchResult(
                title=str(r.get("title") or r["link"]),
                url=str(r["link"]),
                snippet=str(r.get("snippet") or ""),
            )
            for r in (rows or [])[:max_results]
            if isinstance(r, dict) and r.get("link")
        ]
