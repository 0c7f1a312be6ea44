"""Serve a local corpus over loopback HTTP: its pages plus a SearxNG-compatible search.

``serve_corpus(folder)`` indexes the folder (:class:`~thinktank.tools.web.corpus.CorpusIndex`)
and starts a threaded HTTP server on ``127.0.0.1`` with

* ``GET /<relative path>``: the corpus files as they are (so ``fetch_page`` does
  the real HTML extraction), ``/`` lists the documents when there is no index.html;
* ``GET /doc/<id>``: a JSONL document rendered as a small HTML page;
* ``GET /search?q=...&format=json[&pageno=N]``: SearxNG's JSON result format,
  ranked by the FTS5 index, with result URLs pointing back at this server.

Web evals use it to make search-and-read tasks reproducible offline::

    with serve_corpus("corpus/") as server:
        async with server.search_config().build() as search, server.fetch_config().build() as fetch:
            tools = [search.tool(), fetch.tool()]

Subclass :class:`CorpusRequestHandler` (``handler=``) to add routes, e.g. faults in tests.
"""

from __future__ import annotations

import html
import json
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from thinktank.tools.web.corpus import CorpusIndex

if TYPE_CHECKING:
    from thinktank.tools.web.fetch import FetchConfig
    from thinktank.tools.web.search import WebSearchConfig


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    index: CorpusIndex
    root: Path | None
    base_url: str
    page_size: int


class CorpusRequestHandler(BaseHTTPRequestHandler):
    """Routes of the corpus server; override :meth:`route` to add more."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.route(unquote(parts.path), parse_qs(parts.query))

    def route(self, path: str, query: dict[str, list[str]]) -> None:
        """Dispatch one GET request."""
        if path == "/search":
            self.search(query)
        elif path.startswith("/doc/"):
            self.document(path[1:])
        else:
            self.file(path)

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Send a complete response."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(data).encode(), "application/json", headers)

    def search(self, query: dict[str, list[str]]) -> None:
        """SearxNG-style ``/search?q=...&format=json``."""
        q = (query.get("q") or [""])[0]
        try:
            page = max(1, int((query.get("pageno") or ["1"])[0]))
        except ValueError:
            page = 1
        size = self.server.page_size
        hits = self.server.index.search(q, limit=page * size)[(page - 1) * size :]
        results = [
            {
                "url": f"{self.server.base_url}/{quote(h.path)}",
                "title": h.title,
                "content": h.snippet,
                "engine": "thinktank-corpus",
                "score": h.score,
                "category": "general",
            }
            for h in hits
        ]
        self.send_json(
            200,
            {"query": q, "number_of_results": len(results), "results": results, "answers": [],
             "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []},
        )  # fmt: skip

    def document(self, path: str) -> None:
        """A stored document (JSONL corpora) as HTML."""
        doc = self.server.index.document(path)
        if doc is None:
            return self.send(404, b"not found", "text/plain; charset=utf-8")
        paragraphs = "".join(
            f"<p>{html.escape(p)}</p>\n" for p in doc.text.split("\n\n") if p.strip()
        )
        page = f"<!doctype html><html><head><title>{html.escape(doc.title)}</title></head><body><h1>{html.escape(doc.title)}</h1>\n{paragraphs}</body></html>"
        self.send(200, page.encode(), "text/html; charset=utf-8")

    def file(self, path: str) -> None:
        """A file under the corpus folder; ``/`` lists documents when there is no index page."""
        root = self.server.root
        target = (root / path.lstrip("/")).resolve() if root else None
        if target and target.is_dir():
            target = target / "index.html"
        if (
            root is None
            or target is None
            or not target.is_file()
            or not target.is_relative_to(root)
        ):
            if path in ("/", "/index.html"):
                return self.listing()
            return self.send(404, b"not found", "text/plain; charset=utf-8")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or target.suffix in (".md", ".markdown"):
            kind = f"{'text/markdown' if target.suffix in ('.md', '.markdown') else kind}; charset=utf-8"
        self.send(200, target.read_bytes(), kind)

    def listing(self) -> None:
        with self.server.index._lock:
            rows = self.server.index._db.execute(
                "SELECT path, title FROM docs ORDER BY path LIMIT 1000"
            ).fetchall()
        items = "".join(f'<li><a href="/{quote(p)}">{html.escape(t)}</a></li>' for p, t in rows)
        self.send(
            200,
            f"<!doctype html><html><body><ul>{items}</ul></body></html>".encode(),
            "text/html; charset=utf-8",
        )

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and evals
        return


class CorpusServer:
    """A running loopback server over a corpus; stop it with :meth:`close` (or ``with``)."""

    def __init__(
        self,
        source: str | Path,
        *,
        index_path: str | Path | None = None,
        port: int = 0,
        handler: type[CorpusRequestHandler] = CorpusRequestHandler,
        page_size: int = 10,
    ) -> None:
        source = Path(source)
        self.index = CorpusIndex.open(source, index_path=index_path)
        self._httpd = _Server(("127.0.0.1", port), handler)
        self.host, self.port = "127.0.0.1", int(self._httpd.server_address[1])
        self._httpd.index = self.index
        self._httpd.root = source.resolve() if source.is_dir() else None
        self._httpd.base_url = self.url
        self._httpd.page_size = page_size
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"corpus:{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43121``."""
        return f"http://{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        """``127.0.0.1:<port>``: the entry to put on the fetch allowlist."""
        return f"{self.host}:{self.port}"

    def fetch_config(self, **overrides: Any) -> FetchConfig:
        """A fetch configuration whose SSRF allowlist opens exactly this server."""
        from thinktank.tools.web.fetch import FetchConfig
        from thinktank.tools.web.ssrf import SSRFPolicy

        return FetchConfig(ssrf=SSRFPolicy(allow=[self.host_port]), **overrides)

    def search_config(self, **overrides: Any) -> WebSearchConfig:
        """A web-search configuration that queries this server's SearxNG endpoint."""
        from thinktank.tools.web.backends.searxng import SearxNGConfig
        from thinktank.tools.web.search import WebSearchConfig

        return WebSearchConfig(backends=[SearxNGConfig(base_url=self.url)], **overrides)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self.index.close()

    def __enter__(self) -> CorpusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_corpus(source: str | Path, **options: Any) -> CorpusServer:
    """Index ``source`` and serve it on loopback; see :class:`CorpusServer` for options."""
    return CorpusServer(source, **options)
