"""``web_search``: one tool over pluggable backends, with retries, fallbacks and a cache.

Backends (one module each under :mod:`thinktank.tools.web.backends`): ``searxng``,
``tavily``, ``brave``, ``serper``, ``duckduckgo`` and ``local`` (BM25 over a
corpus). :class:`WebSearchConfig` lists them in order: the first answers, the
others are fallbacks tried when it fails. Transient failures (429, 5xx, network)
are retried per backend by the shared retry layer (:mod:`thinktank.llm.retry`:
exponential backoff with jitter, ``Retry-After`` honoured); a rate limit asking for
a longer wait than ``retry.max_retry_after_s`` moves on to the next backend at once.
Results are cached in memory and, with ``cache_path``, in SQLite.

A missing API key fails at :meth:`WebSearchConfig.build` naming the environment
variable to set; at call time every failure becomes an error result for the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
from pydantic import ConfigDict, Field

from thinktank._strict import StrictModel
from thinktank.errors import ToolCallError
from thinktank.llm.retry import RetryableError, RetryPolicy, call_with_retries
from thinktank.tools.base import Tool, ToolArgs, ToolResult
from thinktank.tools.errors import SearchError, SearchRateLimited, SearchUnavailable
from thinktank.tools.web._cache import SearchCache, cache_key
from thinktank.tools.web.backends.base import SearchBackend, SearchResult
from thinktank.tools.web.backends.brave import BraveConfig
from thinktank.tools.web.backends.duckduckgo import DuckDuckGoConfig
from thinktank.tools.web.backends.local import LocalSearchConfig
from thinktank.tools.web.backends.searxng import SearxNGConfig
from thinktank.tools.web.backends.serper import SerperConfig
from thinktank.tools.web.backends.tavily import TavilyConfig

SearchBackendConfig = Annotated[
    SearxNGConfig
    | TavilyConfig
    | BraveConfig
    | SerperConfig
    | DuckDuckGoConfig
    | LocalSearchConfig,
    Field(discriminator="type"),
]
"""Any backend config, chosen by its ``type``."""

_HTTP_BACKENDS = (SearxNGConfig, TavilyConfig, BraveConfig, SerperConfig)


class WebSearchConfig(StrictModel):
    """Settings of :class:`WebSearch` and the ``web_search`` tool."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    backends: list[SearchBackendConfig] = Field(min_length=1)
    """Backends in order of preference; later ones are fallbacks."""
    max_results: int = Field(default=5, ge=1)
    """Results returned when the model does not ask for a number."""
    max_results_limit: int = Field(default=10, ge=1)
    """Most results a model may ask for."""
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(
            max_retries=2, initial_s=1.0, max_wait_s=10.0, max_retry_after_s=30.0
        )
    )
    """Retries per backend for transient failures (429, 5xx, network errors); a
    ``Retry-After`` longer than ``max_retry_after_s`` skips to the next backend."""
    cache_ttl_s: float = 24 * 3600.0
    """Seconds a cached result list stays valid (0 disables caching)."""
    cache_path: Path | None = None
    """SQLite file that keeps results across runs (default: memory only)."""

    def build(self, *, transport: httpx.AsyncBaseTransport | None = None) -> WebSearch:
        """Build every backend now, so a missing key or package fails before the run.

        ``transport`` is passed to HTTP backends (tests use ``httpx.MockTransport``).
        """
        backends: list[SearchBackend] = []
        for config in self.backends:
            if isinstance(config, _HTTP_BACKENDS):
                backends.append(config.build(transport=transport))
            else:
                backends.append(config.build())
        return WebSearch(backends, self)


class WebSearch:
    """Searches through a chain of backends (see the module doc)."""

    def __init__(self, backends: list[SearchBackend], config: WebSearchConfig) -> None:
        self.backends = backends
        self.config = config
        self.cache = (
            SearchCache(ttl_s=config.cache_ttl_s, path=config.cache_path)
            if config.cache_ttl_s > 0
            else None
        )

    async def __aenter__(self) -> WebSearch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()

    async def search(self, query: str, max_results: int | None = None) -> list[SearchResult]:
        """Results for ``query``; raises a ``SearchError`` when every backend failed."""
        return (await self.search_with_source(query, max_results))[0]

    async def search_with_source(
        self, query: str, max_results: int | None = None
    ) -> tuple[list[SearchResult], str]:
        """Results and where they came from (a backend name or ``cache``)."""
        query = " ".join(query.split())
        if not query:
            raise ToolCallError("the search query is empty; say what to look for")
        n = min(max_results or self.config.max_results, self.config.max_results_limit)
        chain = [
            c.model_dump(mode="json", exclude={"api_key", "timeout_s"})
            for c in self.config.backends
        ]
        key = cache_key(chain, query, n)  # two chains (say, two SearxNG URLs) never share entries
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit, "cache"
        failures: list[str] = []
        for backend in self.backends:
            try:
                results = await self._search_with_retries(backend, query, n)
            except SearchError as exc:
                failures.append(f"{backend.name}: {exc}")
                continue
            unique = list({r.url: r for r in results}.values())[:n]
            if self.cache is not None:
                self.cache.put(key, unique)
            return unique, backend.name
        raise SearchUnavailable("web search is unavailable right now (" + "; ".join(failures) + ")")

    async def _search_with_retries(
        self, backend: SearchBackend, query: str, n: int
    ) -> list[SearchResult]:
        policy = self.config.retry

        async def attempt() -> list[SearchResult]:
            try:
                return await backend.search(query, n)
            except SearchRateLimited as exc:
                if exc.retry_after is not None and exc.retry_after > policy.max_retry_after_s:
                    raise  # waiting that long is worse than asking the next backend
                raise RetryableError(exc, exc.retry_after) from exc
            except SearchUnavailable as exc:
                raise RetryableError(exc) from exc

        try:
            return await call_with_retries(attempt, policy)
        except RetryableError as exc:
            assert isinstance(exc.cause, SearchError)
            raise exc.cause from exc

    def tool(self) -> WebSearchTool:
        """This search as the ``web_search`` tool."""
        return WebSearchTool(self)


class WebSearchArgs(ToolArgs):
    query: str
    """What to search for, as you would type it into a search engine."""
    max_results: int | None = Field(default=None, ge=1)
    """How many results to return (optional)."""


def format_results(query: str, results: list[SearchResult]) -> str:
    """Numbered results as the model reads them."""
    if not results:
        return f"No results for {query!r}. Try other words or a broader query."
    lines = [f"Results for {query!r}:"]
    for i, r in enumerate(results, 1):
        lines.append(f"\n{i}. {r.title}\n   URL: {r.url}")
        if r.snippet:
            lines.append(f"   {r.snippet}")
    return "\n".join(lines)


class WebSearchTool(Tool[WebSearchArgs]):
    """``web_search(query, max_results=None)``; results as a numbered list."""

    name = "web_search"
    args_model = WebSearchArgs

    def __init__(self, search: WebSearch) -> None:
        self.search = search
        self.description = (
            "Search the web. Returns titles, URLs and snippets; read a result in full with "
            f"fetch_page. Up to {search.config.max_results_limit} results per call."
        )

    async def run(self, args: WebSearchArgs) -> ToolResult:
        results, source = await self.search.search_with_source(args.query, args.max_results)
        metadata: dict[str, Any] = {
            "backend": source,
            "results": [r.model_dump() for r in results],
        }
        return ToolResult(content=format_results(args.query, results), metadata=metadata)
