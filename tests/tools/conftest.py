"""Fixtures of the tool tests: a loopback web fixture built on the corpus server.

The fixture server serves a small corpus (HTML, Markdown, text, a long page, a
PNG) and adds test routes: redirects, generated huge pages (declared or streamed
length), binary and mislabelled bodies, a Latin-1 page, a slow page, and fault
injection on ``/search`` (a queue of statuses answered before normal results).

No test may resolve a real name: ``socket.getaddrinfo`` is wrapped so anything but
an IP literal or ``localhost`` fails loudly; tests inject a ``StaticResolver``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from thinktank.tools.web import FetchConfig, PageFetcher, SSRFPolicy, StaticResolver
from thinktank.tools.web.serve import CorpusRequestHandler, CorpusServer, serve_corpus
from thinktank.tools.web.testing import LoopbackOnlyBackend

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LONG_PARAGRAPHS = [
    f"Paragraph {i}: the quick brown fox number {i} jumps over the lazy dog near river {i * 7}. "
    * 6
    for i in range(80)
]


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            if name not in ("localhost", ""):
                raise OSError(f"tests may not resolve {name!r}; inject a StaticResolver") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


class FixtureHandler(CorpusRequestHandler):
    """Corpus routes plus test routes; ``state`` is set per server (see ``web`` fixture)."""

    state: dict[str, Any]

    def route(self, path: str, query: dict[str, list[str]]) -> None:
        st = self.state
        st["requests"].append(path)
        st["hosts"].append(self.headers.get("Host"))
        arg = {k: v[0] for k, v in query.items()}
        if path == "/search":
            st["search_calls"] += 1
            if st["faults"]:
                status, headers = st["faults"].pop(0)
                return self.send_json(status, {"error": f"injected {status}"}, headers)
        if path == "/redirect":
            return self.send(
                int(arg.get("status", "302")), b"", "text/plain", {"Location": arg["to"]}
            )
        if path == "/loop":
            return self.send(302, b"", "text/plain", {"Location": "/loop"})
        if path == "/huge":
            return self._huge(int(arg.get("n", "6000000")), declared=arg.get("declared") == "1")
        if path == "/blob":
            return self.send(200, b"\x00\x01\x02binary\x00" * 100, "application/octet-stream")
        if path == "/textblob":
            return self.send(
                200, b"just some plain words in a mislabelled body", "application/octet-stream"
            )
        if path == "/latin1":
            body = "<html><body><p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e</p></body></html>".encode(
                "latin-1"
            )
            return self.send(200, body, "text/html; charset=iso-8859-1")
        if path == "/missing":
            return self.send(404, b"nope", "text/plain")
        if path == "/slow":
            time.sleep(float(arg.get("s", "2")))
            return self.send(200, b"late", "text/plain")
        return super().route(path, query)

    def _huge(self, n: int, *, declared: bool) -> None:
        chunk = b"<p>" + b"x" * 65_530 + b"</p>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if declared:
            self.send_header("Content-Length", str(n))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        sent = 0
        try:
            while sent < n:
                piece = chunk[: n - sent]
                self.wfile.write(piece)
                sent += len(piece)
                st = self.state
                st["huge_bytes_sent"] = sent
        except (BrokenPipeError, ConnectionResetError):
            pass


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "apple.html").write_text(
        "<html><head><title>Apple pie</title></head><body><nav>Home | Recipes</nav>"
        "<h1>Apple pie recipe</h1><p>Bake sliced apples with cinnamon and sugar in a butter crust "
        "for forty minutes.</p><footer>Copyright</footer></body></html>"
    )
    (root / "banana.md").write_text("# Bananas\n\nBananas are yellow fruit rich in potassium.\n")
    (root / "cherry.txt").write_text(
        "Cherries\n\nCherry trees blossom in spring; the fruit is red.\n"
    )
    body = "".join(f"<p>{p}</p>\n" for p in LONG_PARAGRAPHS)
    (root / "long.html").write_text(
        f"<html><head><title>Long page</title></head><body>{body}</body></html>"
    )
    (root / "img").mkdir(exist_ok=True)
    (root / "img" / "logo.png").write_bytes(PNG)
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "durian.html").write_text(
        "<html><head><title>Durian</title></head><body><p>The durian smells strong.</p></body></html>"
    )
    return root


@pytest.fixture
def web(tmp_path: Path) -> Iterator[CorpusServer]:
    """The loopback fixture server; ``web.state`` holds its request log and fault queue."""
    state: dict[str, Any] = {"requests": [], "hosts": [], "faults": [], "search_calls": 0}
    handler = type("Handler", (FixtureHandler,), {"state": state})
    server = serve_corpus(
        write_corpus(tmp_path / "site"), index_path=tmp_path / "index.sqlite", handler=handler
    )
    server.state = state  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def guard() -> LoopbackOnlyBackend:
    """Records every connection the fetcher makes and refuses non-loopback ones."""
    return LoopbackOnlyBackend()


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            "fixture.test": ["127.0.0.1"],
            "public.example": ["93.184.216.34"],
            "internal.example": ["10.0.0.5"],
            "mixed.example": ["93.184.216.34", "127.0.0.1"],
            "v6loop.example": ["::1"],
            "mapped.example": ["::ffff:10.0.0.1"],
            "metadata.example": ["169.254.169.254"],
            "rebind.example": [["93.184.216.34"], ["127.0.0.1"]],
        }
    )


@pytest.fixture
async def fetcher(
    web: CorpusServer, resolver: StaticResolver, guard: LoopbackOnlyBackend
) -> AsyncIterator[PageFetcher]:
    """A fetcher allowed to reach exactly the fixture server."""
    config = FetchConfig(
        ssrf=SSRFPolicy(allow=[web.host_port, f"fixture.test:{web.port}"]), read_timeout_s=5
    )
    async with PageFetcher(config, resolver=resolver, network_backend=guard) as f:
        yield f
