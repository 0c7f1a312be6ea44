"""The ``web`` environment: ``web_search`` and ``fetch_page`` over a corpus served on loopback.

Started once per run: the corpus (by default the bundled fictional one,
:func:`~thinktank.evals.tasks.suites.bundled.web_corpus_dir`) is indexed and served by
:func:`~thinktank.tools.web.serve.serve_corpus` on ``127.0.0.1`` with a
SearxNG-compatible search endpoint; ``web_search`` queries it and ``fetch_page`` may
fetch exactly that server (its SSRF allowlist). Every task gets the same two tools.
With ``search``/``fetch`` configs instead (a real backend such as Brave or SearxNG,
and the default fetch policy), the same environment runs web tasks against the
internet — GAIA-style suites with your own endpoint. Answers are judged by the
task's evaluator (``string`` with aliases by default; ``llm_match`` uses ``judge``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from thinktank.evals.environments.base import TaskContext, TaskEnvironment
from thinktank.evals.tasks.evaluators import EvalContext, Verdict, evaluate
from thinktank.evals.tasks.task import Task
from thinktank.tools.base import Tool
from thinktank.tools.web.fetch import FetchConfig, PageFetcher
from thinktank.tools.web.search import WebSearch, WebSearchConfig
from thinktank.tools.web.serve import CorpusServer, serve_corpus


class WebEnvironment(TaskEnvironment):
    """Serves a corpus on loopback once per run; per task: ``web_search`` + ``fetch_page``.

    Args:
        corpus: folder of pages to serve (default: the bundled web corpus).
        index_path: where the search index is kept (default: a temporary file).
        search: a :class:`WebSearchConfig` (or dict) for a real search backend instead
            of the served corpus.
        fetch: a :class:`FetchConfig` (or dict) for ``fetch_page`` (default: allowed to
            reach the corpus server only; with ``search`` given, the default policy).
        judge: the model used by ``llm_match`` evaluators.
    """

    kinds = frozenset({"web"})

    def __init__(
        self,
        *,
        corpus: str | Path | None = None,
        index_path: str | Path | None = None,
        search: WebSearchConfig | dict[str, Any] | None = None,
        fetch: FetchConfig | dict[str, Any] | None = None,
        judge: Any = None,
    ) -> None:
        self.corpus = Path(corpus) if corpus else None
        self.index_path = Path(index_path) if index_path else None
        self.search_config = (
            WebSearchConfig.model_validate(search) if isinstance(search, dict) else search
        )
        self.fetch_config = FetchConfig.model_validate(fetch) if isinstance(fetch, dict) else fetch
        self.judge = judge
        self.server: CorpusServer | None = None
        self.tools: list[Tool[Any]] = []
        self._search: WebSearch | None = None
        self._fetch: PageFetcher | None = None
        self._tmp: Path | None = None

    @property
    def url(self) -> str | None:
        """Base URL of the corpus server while it runs."""
        return self.server.url if self.server else None

    async def start(self) -> None:
        if self.tools:
            return
        search_cfg, fetch_cfg = self.search_config, self.fetch_config
        if search_cfg is None:
            from thinktank.evals.tasks.suites.bundled import web_corpus_dir

            corpus = self.corpus or web_corpus_dir()
            index = self.index_path
            if index is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="thinktank-web-"))
                index = self._tmp / "index.sqlite"
            self.server = await asyncio.to_thread(serve_corpus, corpus, index_path=index)
            search_cfg = self.server.search_config()
            fetch_cfg = fetch_cfg or self.server.fetch_config()
        self._search = search_cfg.build()
        self._fetch = (fetch_cfg or FetchConfig()).build()
        self.tools = [self._search.tool(), self._fetch.tool()]

    async def close(self) -> None:
        self.tools = []
        for client in (self._search, self._fetch):
            if client is not None:
                await client.aclose()
        self._search = self._fetch = None
        if self.server is not None:
            await asyncio.to_thread(self.server.close)
            self.server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def open(self, task: Task) -> TaskContext:
        if not self.tools:
            await self.start()
        return TaskContext(tools=list(self.tools))

    async def evaluate(
        self, task: Task, answer: str | None, ctx: TaskContext, *, output: Any = None
    ) -> Verdict:
        return await evaluate(task, answer, EvalContext(judge=self.judge))
