"""fetch_page against the loopback fixture server (allowlisted), through the pinned transport."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from thinktank.tools import Toolset
from thinktank.tools.web import FetchConfig, PageFetcher, SSRFPolicy, StaticResolver
from thinktank.tools.web.serve import CorpusServer
from thinktank.tools.web.testing import LoopbackOnlyBackend

from .conftest import LONG_PARAGRAPHS


async def test_html_page_becomes_main_text_with_title(
    web: CorpusServer, fetcher: PageFetcher
) -> None:
    result = await fetcher.tool().invoke({"url": f"{web.url}/apple.html"})
    assert not result.is_error, result.content
    assert result.content.startswith(f"URL: {web.url}/apple.html\nTitle: Apple pie\n")
    assert "Bake sliced apples with cinnamon" in result.content
    assert "<p>" not in result.content and "start_index" not in result.content
    assert result.metadata["status"] == 200 and result.metadata["next_start_index"] is None


async def test_text_and_markdown_pass_through(web: CorpusServer, fetcher: PageFetcher) -> None:
    md = await fetcher.fetch(f"{web.url}/banana.md")
    assert "# Bananas\n\nBananas are yellow fruit" in md.content
    txt = await fetcher.fetch(f"{web.url}/cherry.txt")
    assert "Cherry trees blossom in spring" in txt.content
    mislabelled = await fetcher.fetch(f"{web.url}/textblob")
    assert "just some plain words" in mislabelled.content


async def test_long_page_is_read_in_parts(web: CorpusServer, fetcher: PageFetcher) -> None:
    url = f"{web.url}/long.html"
    tool = fetcher.tool()
    parts, start, calls = [], 0, 0
    while start is not None:
        result = await tool.invoke({"url": url, "start_index": start, "max_chars": 3000})
        assert not result.is_error, result.content
        meta = result.metadata
        parts.append((await fetcher.get(url)).text[meta["start_index"] : meta["end_index"]])
        if meta["next_start_index"] is not None:
            hint = f'call fetch_page(url="{url}", start_index={meta["next_start_index"]})'
            assert hint in result.content
            assert (
                f"Characters {start:,}-{meta['end_index']:,} of {meta['total_chars']:,}"
                in result.content
            )
        start, calls = meta["next_start_index"], calls + 1
    full = (await fetcher.get(url)).text
    assert "".join(parts) == full and calls >= 5
    for paragraph in (LONG_PARAGRAPHS[0], LONG_PARAGRAPHS[-1]):
        assert paragraph.split(":")[0] in full
    assert web.state["requests"].count("/long.html") == 1  # parts come from the page cache


async def test_parts_end_at_a_word_break_and_size_is_clamped(
    web: CorpusServer, fetcher: PageFetcher
) -> None:
    first = await fetcher.fetch(f"{web.url}/long.html", max_chars=1000)
    end = first.metadata["end_index"]
    text = (await fetcher.get(f"{web.url}/long.html")).text
    assert 800 <= end <= 1000 and text[end - 1] in " \n"
    huge_ask = await fetcher.fetch(f"{web.url}/long.html", max_chars=10**9)
    assert huge_ask.metadata["end_index"] <= fetcher.config.max_chars_limit


async def test_start_index_past_the_end_is_a_clear_error(
    web: CorpusServer, fetcher: PageFetcher
) -> None:
    result = await fetcher.tool().invoke({"url": f"{web.url}/apple.html", "start_index": 10**6})
    assert result.is_error and "past the end of the page" in result.content


@pytest.mark.parametrize("path", ["/img/logo.png", "/blob"])
async def test_binary_content_is_refused(
    web: CorpusServer, fetcher: PageFetcher, path: str
) -> None:
    result = await fetcher.tool().invoke({"url": web.url + path})
    assert result.is_error and "is binary content" in result.content
    assert "reads only HTML and text" in result.content


@pytest.mark.parametrize("declared", [True, False])
async def test_huge_page_is_cut_at_the_byte_cap(
    web: CorpusServer, resolver: StaticResolver, declared: bool
) -> None:
    cap = 300_000
    config = FetchConfig(ssrf=SSRFPolicy(allow=[web.host_port]), max_bytes=cap)
    async with PageFetcher(
        config, resolver=resolver, network_backend=LoopbackOnlyBackend()
    ) as fetcher:
        result = await fetcher.tool().invoke(
            {"url": f"{web.url}/huge?n=3000000&declared={int(declared)}"}
        )
    assert not result.is_error, result.content
    assert result.metadata["bytes_read"] == cap and result.metadata["cut_at_cap"] is True
    assert "larger than 300,000 bytes; only the first part was downloaded" in result.content


async def test_default_cap_is_five_megabytes(web: CorpusServer, fetcher: PageFetcher) -> None:
    page = await fetcher.get(f"{web.url}/huge?n=6000000")
    assert fetcher.config.max_bytes == 5_000_000
    assert page.bytes_read == 5_000_000 and page.cut_at_cap


async def test_redirects_are_followed_and_recorded(web: CorpusServer, fetcher: PageFetcher) -> None:
    result = await fetcher.fetch(f"{web.url}/redirect?to=/sub/durian.html")
    assert "The durian smells strong" in result.content
    assert result.metadata["final_url"] == f"{web.url}/sub/durian.html"
    assert result.metadata["redirects"] == [f"{web.url}/sub/durian.html"]


async def test_redirect_loop_stops(web: CorpusServer, fetcher: PageFetcher) -> None:
    result = await fetcher.tool().invoke({"url": f"{web.url}/loop"})
    assert result.is_error and "too many redirects" in result.content
    assert web.state["requests"].count("/loop") == fetcher.config.max_redirects + 1


async def test_http_errors_and_charsets(web: CorpusServer, fetcher: PageFetcher) -> None:
    missing = await fetcher.tool().invoke({"url": f"{web.url}/missing"})
    assert missing.is_error and "HTTP 404" in missing.content
    latin = await fetcher.fetch(f"{web.url}/latin1")
    assert "Café crème brûlée" in latin.content


async def test_read_timeout_is_an_error_result(web: CorpusServer, resolver: StaticResolver) -> None:
    config = FetchConfig(ssrf=SSRFPolicy(allow=[web.host_port]), read_timeout_s=0.2)
    async with PageFetcher(
        config, resolver=resolver, network_backend=LoopbackOnlyBackend()
    ) as fetcher:
        result = await Toolset([fetcher.tool()]).execute(
            "fetch_page", json.dumps({"url": f"{web.url}/slow?s=1"})
        )
    assert result.is_error and "timed out" in result.content


async def test_allowlisted_name_is_pinned_and_keeps_its_host_header(
    web: CorpusServer, fetcher: PageFetcher, resolver: StaticResolver, guard: LoopbackOnlyBackend
) -> None:
    result = await fetcher.fetch(f"http://fixture.test:{web.port}/apple.html")
    assert "Apple pie recipe" in result.content
    assert web.state["hosts"][-1] == f"fixture.test:{web.port}"
    assert guard.attempts == [("127.0.0.1", web.port)] and resolver.calls == ["fixture.test"]


async def test_fetch_tool_output_is_not_cut_by_the_toolset(
    web: CorpusServer, fetcher: PageFetcher
) -> None:
    tools = Toolset([fetcher.tool()], max_output_chars=2000)
    result = await tools.execute("fetch_page", {"url": f"{web.url}/long.html", "max_chars": 15000})
    assert "truncated_chars" not in result.metadata and "start_index=" in result.content


# --- TLS: the pinned connection still verifies the certificate of the real name --------


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (and its key), valid for two days."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _https_server(tmp_path: Path) -> tuple[ThreadingHTTPServer, Path]:
    cert, key = _self_signed(tmp_path, "fixture.test")

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><head><title>TLS</title></head><body><p>secure hello</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, cert


async def test_tls_uses_the_host_name_for_sni_and_verification(tmp_path: Path) -> None:
    server, cert = _https_server(tmp_path)
    port = server.server_address[1]
    resolver = StaticResolver({"fixture.test": ["127.0.0.1"]})
    config = FetchConfig(
        ca_file=cert, ssrf=SSRFPolicy(allow=[f"fixture.test:{port}", f"127.0.0.1:{port}"])
    )
    try:
        async with PageFetcher(
            config, resolver=resolver, network_backend=LoopbackOnlyBackend()
        ) as fetcher:
            good = await fetcher.tool().invoke({"url": f"https://fixture.test:{port}/"})
            assert not good.is_error, good.content
            assert "secure hello" in good.content
            by_ip = await fetcher.tool().invoke({"url": f"https://127.0.0.1:{port}/"})
            assert by_ip.is_error and "CERTIFICATE_VERIFY_FAILED" in by_ip.content.upper().replace(
                " ", "_"
            )
    finally:
        server.shutdown()
        server.server_close()
