"""Web tools: ``web_search`` (pluggable backends), ``fetch_page`` (SSRF-guarded),
local BM25 corpus search and a loopback corpus server. See ``tools/README.md``."""

from __future__ import annotations

from thinktank.tools.web.backends.base import SearchBackend, SearchResult
from thinktank.tools.web.corpus import CorpusHit, CorpusIndex, Document
from thinktank.tools.web.fetch import FetchConfig, Page, PageFetcher, fetch_page
from thinktank.tools.web.search import SearchBackendConfig, WebSearch, WebSearchConfig
from thinktank.tools.web.serve import CorpusRequestHandler, CorpusServer, serve_corpus
from thinktank.tools.web.ssrf import SSRFPolicy, StaticResolver, SystemResolver

__all__ = [
    "CorpusHit",
    "CorpusIndex",
    "CorpusRequestHandler",
    "CorpusServer",
    "Document",
    "FetchConfig",
    "Page",
    "PageFetcher",
    "SSRFPolicy",
    "SearchBackend",
    "SearchBackendConfig",
    "SearchResult",
    "StaticResolver",
    "SystemResolver",
    "WebSearch",
    "WebSearchConfig",
    "fetch_page",
    "serve_corpus",
]
