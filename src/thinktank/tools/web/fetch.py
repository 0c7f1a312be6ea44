"""``fetch_page``: read a web page as text, a page of characters at a time.

:class:`PageFetcher` downloads with httpx (connect/read/total timeouts, a byte cap
counted while streaming the decoded body), follows redirects itself so every hop
goes through the SSRF guard again, converts HTML to its main text
(:mod:`~thinktank.tools.web._html`), passes text through, refuses binary content,
and serves long pages in parts: each part ends with a note telling the model the
``start_index`` of the next one. Extracted pages are kept in a small cache so
paging does not download the page again.

Connections go through :class:`~thinktank.tools.web._transport.PinnedTransport`:
the socket only ever connects to an address the guard vetted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urljoin

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field

from thinktank._strict import StrictModel
from thinktank.errors import ToolCallError
from thinktank.tools.base import Tool, ToolArgs, ToolResult
from thinktank.tools.errors import BlockedURL, FetchError, UnsupportedContent
from thinktank.tools.web._content import decode_body, kind_of, read_capped, sniff
from thinktank.tools.web._html import html_to_text
from thinktank.tools.web._transport import PinnedTransport
from thinktank.tools.web.ssrf import Resolver, SSRFPolicy

_REDIRECTS = (301, 302, 303, 307, 308)


class FetchConfig(StrictModel):
    """Settings of :class:`PageFetcher` (and of the ``fetch_page`` tool)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    max_bytes: int = Field(default=5_000_000, gt=0)
    """Download cap; a larger page is read up to the cap and marked as cut."""
    default_chars: int = Field(default=8_000, gt=0)
    """Characters per part when the model does not ask for ``max_chars``."""
    max_chars_limit: int = Field(default=20_000, gt=0)
    """Largest ``max_chars`` a model may ask for."""
    connect_timeout_s: float = 10.0
    """Seconds to resolve and connect."""
    read_timeout_s: float = 20.0
    """Seconds to wait for each chunk of the response."""
    total_timeout_s: float = 60.0
    """Seconds for the whole download including redirects (stops slow-drip servers)."""
    max_redirects: int = 5
    """Redirect hops followed before giving up."""
    user_agent: str = "thinktank-fetch/0.1"
    """``User-Agent`` header sent with every request."""
    ssrf: SSRFPolicy = Field(default_factory=SSRFPolicy)
    """SSRF guard; on by default. ``SSRFPolicy(allow=["127.0.0.1:8000"])`` opens a hole."""
    ca_file: Path | None = None
    """Extra CA certificates to trust (e.g. a test server's self-signed certificate)."""
    cache_pages: int = 32
    """Extracted pages kept in memory for paging (0 disables)."""
    cache_ttl_s: float = 600.0
    """Seconds a cached page stays fresh."""

    def build(
        self,
        *,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> PageFetcher:
        """A :class:`PageFetcher`; ``resolver``/``network_backend`` are for tests and offline runs."""
        return PageFetcher(self, resolver=resolver, network_backend=network_backend)


class Page(BaseModel):
    """A downloaded page reduced to text."""

    url: str
    """The URL asked for."""
    final_url: str
    """Where the redirects ended."""
    status: int
    content_type: str
    title: str = ""
    text: str
    bytes_read: int
    cut_at_cap: bool = False
    """True when the download stopped at ``max_bytes``."""
    redirects: list[str] = Field(default_factory=list)


class FetchPageArgs(ToolArgs):
    url: str
    """Absolute http(s) URL of the page to read."""
    start_index: int = Field(default=0, ge=0)
    """Character offset to start from; the end of each part says the offset of the next."""
    max_chars: int | None = Field(default=None, ge=1)
    """Characters to return in this part (default and upper limit set by the operator)."""


class PageFetcher:
    """Downloads pages safely and serves them to the model in parts."""

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.config = config or FetchConfig()
        ssl_context = httpx.create_ssl_context()
        if self.config.ca_file:
            ssl_context.load_verify_locations(cafile=str(self.config.ca_file))
        transport = PinnedTransport(
            self.config.ssrf,
            resolver=resolver,
            network_backend=network_backend,
            ssl_context=ssl_context,
        )
        c = self.config
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(c.read_timeout_s, connect=c.connect_timeout_s),
            headers={
                "User-Agent": c.user_agent,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
            },
        )
        self._cache: OrderedDict[str, tuple[float, Page]] = OrderedDict()

    async def __aenter__(self) -> PageFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str) -> Page:
        """Download ``url`` (following checked redirects) and extract its text."""
        hit = self._cache.get(url)
        if hit and time.monotonic() - hit[0] < self.config.cache_ttl_s:
            self._cache.move_to_end(url)
            return hit[1]
        try:
            async with asyncio.timeout(self.config.total_timeout_s):
                page = await self._download(url)
        except TimeoutError as exc:
            raise FetchError(
                f"fetching {url} took longer than {self.config.total_timeout_s:g} s", url=url
            ) from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {url} ({type(exc).__name__})", url=url) from exc
        except httpx.HTTPError as exc:
            raise FetchError(
                f"could not fetch {url}: {type(exc).__name__}: {exc}", url=url
            ) from exc
        if self.config.cache_pages > 0:
            self._cache[url] = (time.monotonic(), page)
            while len(self._cache) > self.config.cache_pages:
                self._cache.popitem(last=False)
        return page

    async def _download(self, url: str) -> Page:
        current, redirects = url, list[str]()
        for _ in range(self.config.max_redirects + 1):
            try:
                target = self.config.ssrf.check_url(current)
                response = await self._client.send(
                    self._client.build_request("GET", target), stream=True
                )
            except BlockedURL as exc:
                if redirects:
                    raise BlockedURL(f"{exc} (reached by redirect from {url})") from exc
                raise
            try:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    current = urljoin(str(response.url), response.headers["location"])
                    redirects.append(current)
                    continue
                return await self._read(url, response, redirects)
            finally:
                await response.aclose()
        raise FetchError(
            f"too many redirects (more than {self.config.max_redirects}) from {url}", url=url
        )

    async def _read(self, url: str, response: httpx.Response, redirects: list[str]) -> Page:
        final = str(response.url)
        if response.status_code >= 400:
            raise FetchError(
                f"HTTP {response.status_code} {response.reason_phrase} for {final}",
                url=final,
                status=response.status_code,
            )
        content_type = response.headers.get("content-type", "")
        kind = kind_of(content_type)
        if kind == "binary":
            raise_binary(final, content_type, response.headers.get("content-length"))
        body, cut = await read_capped(response, self.config.max_bytes)
        if kind == "unknown":
            kind = sniff(body)
            if kind == "binary":
                raise_binary(final, content_type, str(len(body)))
        text = decode_body(body, content_type, html=kind == "html")
        title = ""
        if kind == "html":
            title, text = await asyncio.to_thread(html_to_text, text, final)
        return Page(
            url=url,
            final_url=final,
            status=response.status_code,
            content_type=content_type,
            title=title,
            text=text,
            bytes_read=len(body),
            cut_at_cap=cut,
            redirects=redirects,
        )

    async def fetch(
        self, url: str, start_index: int = 0, max_chars: int | None = None
    ) -> ToolResult:
        """One part of the page as the model sees it; raises on failures (the tool turns
        them into error results)."""
        page = await self.get(url)
        size = min(max(max_chars or self.config.default_chars, 200), self.config.max_chars_limit)
        total = len(page.text)
        if start_index and start_index >= total:
            raise ToolCallError(
                f"start_index {start_index} is past the end of the page ({total:,} characters)"
            )
        end = min(total, start_index + size)
        if end < total:  # end the part at a line or word break when one is near
            for sep in ("\n", " "):
                cut = page.text.rfind(sep, start_index + int(size * 0.8), end)
                if cut > start_index:
                    end = cut + 1
                    break
        lines = [f"URL: {page.final_url}"]
        if page.title:
            lines.append(f"Title: {page.title}")
        if start_index or end < total:
            lines.append(f"Characters {start_index:,}-{end:,} of {total:,}")
        body = page.text[start_index:end] or "(the page has no readable text)"
        notes = []
        if page.cut_at_cap:
            notes.append(
                f"[The page is larger than {self.config.max_bytes:,} bytes; only the first part was downloaded.]"
            )
        if end < total:
            notes.append(
                f"[… {total - end:,} more characters. To read on, call "
                f"fetch_page(url={json.dumps(url)}, start_index={end}).]"
            )
        content = "\n".join(lines) + "\n\n" + body + ("\n\n" + "\n".join(notes) if notes else "")
        metadata = page.model_dump(exclude={"text"}) | {
            "start_index": start_index,
            "end_index": end,
            "total_chars": total,
            "next_start_index": end if end < total else None,
        }
        return ToolResult(content=content, metadata=metadata)

    def tool(self) -> FetchPageTool:
        """This fetcher as the ``fetch_page`` tool."""
        return FetchPageTool(self)


def raise_binary(url: str, content_type: str, length: str | None) -> None:
    """Refuse binary content, saying what it was."""
    size = f", {int(length):,} bytes" if length and length.isdigit() else ""
    raise UnsupportedContent(
        f"{url} is binary content ({content_type or 'unknown type'}{size}); "
        "fetch_page reads only HTML and text pages"
    )


class FetchPageTool(Tool[FetchPageArgs]):
    """``fetch_page(url, start_index=0, max_chars=None)`` backed by a :class:`PageFetcher`."""

    name = "fetch_page"
    args_model = FetchPageArgs

    def __init__(self, fetcher: PageFetcher) -> None:
        self.fetcher = fetcher
        c = fetcher.config
        self.max_output_chars = c.max_chars_limit + 2_000  # parts are sized here, not cut later
        self.description = (
            "Read a web page as plain text. Long pages come in parts of about "
            f"{c.default_chars:,} characters (up to {c.max_chars_limit:,} with max_chars); "
            "each part ends with the start_index of the next. Only public http(s) pages."
        )

    async def run(self, args: FetchPageArgs) -> ToolResult:
        return await self.fetcher.fetch(args.url, args.start_index, args.max_chars)


async def fetch_page(
    url: str,
    start_index: int = 0,
    max_chars: int | None = None,
    *,
    config: FetchConfig | None = None,
) -> ToolResult:
    """Fetch one part of a page with a throw-away :class:`PageFetcher`; errors become
    error results, as they would for the model."""
    async with PageFetcher(config) as fetcher:
        return await fetcher.tool().invoke(
            {"url": url, "start_index": start_index, "max_chars": max_chars}
        )
