"""DuckDuckGo backend through the ``ddgs`` package (the ``search`` extra); no API key.

``ddgs`` is synchronous, so calls run in a worker thread. Its rate-limit and
timeout exceptions become :class:`~thinktank.tools.errors.SearchRateLimited` and
:class:`~thinktank.tools.errors.SearchUnavailable`, so the usual retries and
fallbacks apply.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from thinktank.errors import MissingDependency
from thinktank.tools.errors import SearchRateLimited, SearchRequestError, SearchUnavailable
from thinktank.tools.web.backends.base import BackendConfig, SearchBackend, SearchResult

INSTALL_HINT = "pip install 'thinktank[search]'"


class DuckDuckGoConfig(BackendConfig):
    """DuckDuckGo (and the other engines ``ddgs`` can query)."""

    type: Literal["duckduckgo"] = "duckduckgo"
    region: str = "us-en"
    """Region code such as ``us-en``, ``uk-en``, ``de-de``."""
    safesearch: Literal["on", "moderate", "off"] = "moderate"
    """Safe-search level."""
    engine: str = "auto"
    """``ddgs`` backend(s), comma-separated, e.g. ``duckduckgo`` or ``auto``."""

    def build(self) -> DuckDuckGoBackend:
        try:
            import ddgs
            import ddgs.exceptions
        except ImportError as exc:
            raise MissingDependency(
                f"the duckduckgo search backend needs the ddgs package: {INSTALL_HINT}"
            ) from exc
        return DuckDuckGoBackend(self, ddgs)


class DuckDuckGoBackend(SearchBackend):
    """Reads ``ddgs.DDGS().text(...)`` rows ``{title, href, body}``."""

    name = "duckduckgo"

    def __init__(self, config: DuckDuckGoConfig, module: Any) -> None:
        """``module`` is the imported ``ddgs`` package (anything with ``DDGS`` and ``exceptions``)."""
        self.config = config
        self._ddgs = module

    def _search_sync(self, query: str, max_results: int) -> list[dict[str, Any]]:
        client = self._ddgs.DDGS(timeout=int(max(1, self.config.timeout_s)))
        rows: list[dict[str, Any]] = client.text(
            query,
            region=self.config.region,
            safesearch=self.config.safesearch,
            max_results=max_results,
            backend=self.config.engine,
        )
        return rows

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        errors = self._ddgs.exceptions
        try:
            rows = await asyncio.to_thread(self._search_sync, query, max_results)
        except errors.RatelimitException as exc:
            raise SearchRateLimited(
                f"duckduckgo rate-limited the request ({exc})", backend=self.name
            ) from exc
        except errors.TimeoutException as exc:
            raise SearchUnavailable(f"duckduckgo timed out ({exc})", backend=self.name) from exc
        except errors.DDGSException as exc:
            # ddgs raises its base error for "no results" too; an empty list is the honest answer
            if "no results" in str(exc).lower():
                return []
            raise SearchRequestError(f"duckduckgo search failed: {exc}", backend=self.name) from exc
        return [
            SearchResult(
                title=str(r.get("title") or r["href"]),
                url=str(r["href"]),
                snippet=str(r.get("body") or ""),
            )
            for r in rows[:max_results]
            if isinstance(r, dict) and r.get("href")
        ]
