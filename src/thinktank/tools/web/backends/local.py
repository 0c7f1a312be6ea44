"""Local backend: BM25 over a corpus folder or JSONL file (the embedded default).

Result URLs, in order of preference: the document's own ``url`` (JSONL), else
``base_url`` + its path (point ``base_url`` at
:func:`~thinktank.tools.web.serve.serve_corpus` so ``fetch_page`` can open them),
else a ``file://`` URL for folder corpora, else ``corpus:<path>``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from thinktank.tools.web.backends.base import BackendConfig, SearchBackend, SearchResult
from thinktank.tools.web.corpus import CorpusIndex


class LocalSearchConfig(BackendConfig):
    """A local corpus indexed with SQLite FTS5."""

    type: Literal["local"] = "local"
    path: Path
    """Folder of .html/.md/.txt pages, or a .jsonl file."""
    index_path: Path | None = None
    """Where the SQLite index lives (default: the thinktank cache directory)."""
    base_url: str | None = None
    """URL the corpus is served at (e.g. ``serve_corpus(...).url``); result URLs hang off it."""

    def build(self) -> LocalSearchBackend:
        return LocalSearchBackend(self, CorpusIndex.open(self.path, index_path=self.index_path))


class LocalSearchBackend(SearchBackend):
    """Answers from a :class:`~thinktank.tools.web.corpus.CorpusIndex`."""

    name = "local"

    def __init__(self, config: LocalSearchConfig, index: CorpusIndex) -> None:
        self.config = config
        self.index = index
        self._root = config.path.resolve() if config.path.is_dir() else None

    def url_for(self, path: str, own_url: str | None) -> str:
        if own_url:
            return own_url
        if self.config.base_url:
            return f"{self.config.base_url.rstrip('/')}/{quote(path)}"
        if self._root is not None:
            return (self._root / path).as_uri()
        return f"corpus:{quote(path)}"

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        hits = await asyncio.to_thread(self.index.search, query, max_results)
        return [
            SearchResult(title=h.title, url=self.url_for(h.path, h.url), snippet=h.snippet)
            for h in hits
        ]

    async def aclose(self) -> None:
        self.index.close()
