"""web_search: SearxNG against the loopback fixture (with injected faults), the other
HTTP backends at the HTTP boundary (httpx.MockTransport), retries, fallbacks, cache."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from thinktank.errors import MissingCredential, MissingDependency
from thinktank.llm.retry import RetryPolicy
from thinktank.tools import Toolset
from thinktank.tools.errors import SearchRateLimited, SearchRequestError, SearchUnavailable
from thinktank.tools.web import WebSearchConfig
from thinktank.tools.web.backends.brave import BraveConfig
from thinktank.tools.web.backends.duckduckgo import DuckDuckGoBackend, DuckDuckGoConfig
from thinktank.tools.web.backends.local import LocalSearchConfig
from thinktank.tools.web.backends.searxng import SearxNGConfig
from thinktank.tools.web.backends.serper import SerperConfig
from thinktank.tools.web.backends.tavily import TavilyConfig
from thinktank.tools.web.serve import CorpusServer

FAST = RetryPolicy(max_retries=2, initial_s=0.01, max_wait_s=0.02, max_retry_after_s=5)


def config(web: CorpusServer, *fallbacks: Any, **options: Any) -> WebSearchConfig:
    options.setdefault("retry", FAST)
    return WebSearchConfig(backends=[SearxNGConfig(base_url=web.url), *fallbacks], **options)


async def test_searxng_results_from_the_fixture(web: CorpusServer) -> None:
    async with config(web).build() as search:
        result = await search.tool().invoke({"query": "apple cinnamon pie"})
    assert not result.is_error, result.content
    assert result.content.startswith("Results for 'apple cinnamon pie':\n\n1. Apple pie\n")
    assert f"URL: {web.url}/apple.html" in result.content and "cinnamon" in result.content
    first = result.metadata["results"][0]
    assert set(first) == {"title", "url", "snippet"} and result.metadata["backend"] == "searxng"


async def test_no_results_is_not_an_error(web: CorpusServer) -> None:
    async with config(web).build() as search:
        result = await search.tool().invoke({"query": "zeppelin"})
    assert not result.is_error and "No results for 'zeppelin'" in result.content


async def test_429_is_retried_after_retry_after(
    web: CorpusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thinktank.llm import retry

    web.state["faults"] += [(429, {"Retry-After": "0"}), (429, {"Retry-After": "1"})]
    slow_backoff = RetryPolicy(max_retries=3, initial_s=30, max_wait_s=30, max_retry_after_s=5)
    waits: list[float] = []
    decide = retry._delay

    def recorded(*args: Any) -> float:
        waits.append(decide(*args))
        return waits[-1]

    monkeypatch.setattr(retry, "_delay", recorded)  # the policy's own decision, recorded
    started = time.monotonic()
    async with config(web, retry=slow_backoff).build() as search:
        results = await search.search("banana potassium")
    assert results and results[0].title == "Bananas"
    assert web.state["search_calls"] == 3
    assert waits == [0.0, 1.0]  # what Retry-After said, not the 30 s backoff
    assert time.monotonic() - started >= 1.0  # and it did wait


async def test_persistent_500_falls_back_to_the_next_backend(
    web: CorpusServer, tmp_path: Path
) -> None:
    web.state["faults"] += [(500, {})] * 10
    local = LocalSearchConfig(
        path=tmp_path / "site", index_path=tmp_path / "index.sqlite", base_url=web.url
    )
    async with config(web, local).build() as search:
        result = await search.tool().invoke({"query": "cherry blossom"})
    assert not result.is_error and result.metadata["backend"] == "local"
    assert f"{web.url}/cherry.txt" in result.content
    assert web.state["search_calls"] == 3  # first try + two retries


async def test_long_retry_after_skips_to_the_fallback_at_once(
    web: CorpusServer, tmp_path: Path
) -> None:
    web.state["faults"] += [(429, {"Retry-After": "3600"})]
    local = LocalSearchConfig(path=tmp_path / "site", index_path=tmp_path / "index.sqlite")
    started = time.monotonic()
    async with config(web, local).build() as search:
        results, source = await search.search_with_source("durian")
    assert source == "local" and web.state["search_calls"] == 1
    assert time.monotonic() - started < 60  # not the hour Retry-After asked for
    assert results[0].url == (tmp_path / "site" / "sub" / "durian.html").resolve().as_uri()


async def test_all_backends_down_is_an_error_result_naming_each(web: CorpusServer) -> None:
    web.state["faults"] += [(503, {})] * 3
    dead = SearxNGConfig(base_url="http://127.0.0.1:9")  # nothing listens on the discard port
    async with config(web, dead).build() as search:
        result = await Toolset([search.tool()]).execute(
            "web_search", json.dumps({"query": "apple"})
        )
    assert result.is_error and "web search is unavailable right now" in result.content
    assert (
        "searxng failed with HTTP 503" in result.content and "searxng unreachable" in result.content
    )


async def test_results_are_cached_in_memory_and_sqlite(web: CorpusServer, tmp_path: Path) -> None:
    cache = tmp_path / "search-cache.sqlite"
    async with config(web, cache_path=cache).build() as search:
        first = await search.search("apple")
        again, source = await search.search_with_source("  apple ")
    assert again == first and source == "cache" and web.state["search_calls"] == 1
    async with config(web, cache_path=cache).build() as fresh:
        _, source = await fresh.search_with_source("apple")
    assert source == "cache" and web.state["search_calls"] == 1
    async with config(web, cache_ttl_s=0).build() as uncached:
        await uncached.search("apple")
        await uncached.search("apple")
    assert web.state["search_calls"] == 3


async def test_bad_queries_are_model_feedback(web: CorpusServer) -> None:
    async with config(web).build() as search:
        tools = Toolset([search.tool()])
        empty = await tools.execute("web_search", '{"query": "   "}')
        wrong = await tools.execute("web_search", '{"q": "apple"}')
    assert empty.is_error and "query is empty" in empty.content
    assert wrong.is_error and "query: required argument missing" in wrong.content


@pytest.mark.parametrize(
    ("backend", "env"),
    [
        (TavilyConfig(), "TAVILY_API_KEY"),
        (BraveConfig(), "BRAVE_API_KEY"),
        (SerperConfig(), "SERPER_API_KEY"),
    ],
)
def test_missing_api_key_names_the_env_var(
    backend: Any, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(MissingCredential, match=env):
        WebSearchConfig(backends=[backend]).build()


def test_missing_searxng_url_and_unknown_backend_are_config_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEARXNG_URL", raising=False)
    with pytest.raises(ValueError, match="SEARXNG_URL"):
        SearxNGConfig().build()
    with pytest.raises(
        ValidationError, match="'searxng', 'tavily', 'brave', 'serper', 'duckduckgo', 'local'"
    ):
        WebSearchConfig.model_validate({"backends": [{"type": "google"}]})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        WebSearchConfig.model_validate({"backends": [{"type": "tavily", "api_kye": "x"}]})


def mock(handler: Any) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.MockTransport(record), seen


async def test_tavily_brave_and_serper_requests_and_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAVILY_API_KEY", "tv-key")
    replies = {
        "api.tavily.com": {
            "results": [{"title": "T", "url": "https://t.example/", "content": "tav"}]
        },
        "api.search.brave.com": {
            "web": {"results": [{"title": "B", "url": "https://b.example/", "description": "brv"}]}
        },
        "google.serper.dev": {
            "organic": [{"title": "S", "link": "https://s.example/", "snippet": "srp"}]
        },
    }
    transport, seen = mock(lambda r: httpx.Response(200, json=replies[r.url.host]))
    for backend, expected in (
        (TavilyConfig(), ("T", "https://t.example/", "tav")),
        (BraveConfig(api_key="br-key"), ("B", "https://b.example/", "brv")),
        (SerperConfig(api_key="sp-key"), ("S", "https://s.example/", "srp")),
    ):
        async with WebSearchConfig(backends=[backend], retry=FAST).build(
            transport=transport
        ) as search:
            [hit] = await search.search("question", 3)
        assert (hit.title, hit.url, hit.snippet) == expected
    tavily, brave, serper = seen
    assert tavily.headers["authorization"] == "Bearer tv-key"
    assert json.loads(tavily.content) == {
        "query": "question",
        "max_results": 3,
        "search_depth": "basic",
    }
    assert brave.headers["x-subscription-token"] == "br-key" and brave.url.params["q"] == "question"
    assert serper.headers["x-api-key"] == "sp-key" and json.loads(serper.content)["num"] == 3


async def test_http_status_translation() -> None:
    statuses = iter([429, 401, 500])

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), headers={"Retry-After": "7"}, json={})

    transport, _ = mock(reply)
    backend = BraveConfig(api_key="k").build(transport=transport)
    with pytest.raises(SearchRateLimited) as limited:
        await backend.search("q", 1)
    assert limited.value.retry_after == 7
    with pytest.raises(SearchRequestError, match="rejected the credentials"):
        await backend.search("q", 1)
    with pytest.raises(SearchUnavailable, match="HTTP 500"):
        await backend.search("q", 1)
    await backend.aclose()


async def test_bad_key_on_the_first_backend_uses_the_fallback(web: CorpusServer) -> None:
    transport, seen = mock(lambda r: httpx.Response(401, json={}))
    chain = [TavilyConfig(api_key="bad"), SearxNGConfig(base_url=web.url)]
    async with WebSearchConfig(backends=chain, retry=FAST).build() as search:
        search.backends[0] = TavilyConfig(api_key="bad").build(transport=transport)
        results, source = await search.search_with_source("banana")
    assert (
        source == "searxng" and results[0].title == "Bananas" and len(seen) == 1
    )  # 401 is not retried


def test_duckduckgo_names_the_search_extra_when_ddgs_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ddgs", None)
    with pytest.raises(MissingDependency, match=r"thinktank\[search\]"):
        DuckDuckGoConfig().build()


async def test_duckduckgo_errors_are_translated() -> None:
    # ddgs does its own networking (and DNS) in native code, out of reach of the test
    # guards, so the backend gets a stand-in module at the package boundary instead.
    from ddgs import exceptions

    outcomes: list[Any] = [
        exceptions.RatelimitException("202 Ratelimit"),
        exceptions.TimeoutException("slow"),
        exceptions.DDGSException("No results found."),
        [{"title": "D", "href": "https://d.example/", "body": "ddg"}],
    ]
    calls: list[dict[str, Any]] = []

    class StandIn:
        def __init__(self, timeout: int) -> None:
            self.timeout = timeout

        def text(self, query: str, **kwargs: Any) -> Any:
            calls.append({"query": query, **kwargs})
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    backend = DuckDuckGoBackend(
        DuckDuckGoConfig(region="de-de"), SimpleNamespace(DDGS=StandIn, exceptions=exceptions)
    )
    with pytest.raises(SearchRateLimited):
        await backend.search("q", 2)
    with pytest.raises(SearchUnavailable, match="timed out"):
        await backend.search("q", 2)
    assert await backend.search("q", 2) == []
    [hit] = await backend.search("q", 2)
    assert (hit.title, hit.url, hit.snippet) == ("D", "https://d.example/", "ddg")
    assert calls[0] == {
        "query": "q",
        "region": "de-de",
        "safesearch": "moderate",
        "max_results": 2,
        "backend": "auto",
    }
