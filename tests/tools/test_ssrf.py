"""The SSRF suite: every case must be refused, and no connection may leave loopback.

Fetchers here connect through ``LoopbackOnlyBackend``, which records every socket
the guard lets through and refuses non-loopback ones, and resolve names with a
``StaticResolver``; a guard bug shows up as a recorded attempt, never as traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from thinktank.tools.web import FetchConfig, PageFetcher, SSRFPolicy, StaticResolver
from thinktank.tools.web.serve import CorpusServer
from thinktank.tools.web.ssrf import blocked_reason, parse_ip
from thinktank.tools.web.testing import LoopbackOnlyBackend

LOOPBACK = [
    "http://localhost/",
    "http://LOCALHOST./",
    "http://app.localhost/",
    "http://localhost.localdomain/",
    "http://ip6-localhost/",
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/admin",
    "http://127.1.2.3/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0x7F.0x0.0x0.0x1/",
    "http://0177.0.0.1/",
    "http://0177.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://127.0.1/",
    "http://127.000.000.001/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::1]:8000/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1%25lo]/",
]
PRIVATE = [
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://169.254.1.1/",
    "http://192.0.0.8/",
    "http://198.18.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://224.0.0.1/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:192.168.0.1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://012.0.0.1/",
    "http://167772161/",
]
METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.169.254:80/computeMetadata/v1/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/",
    "http://100.100.100.200/",
]
NAMES = [  # public-looking names whose DNS answers are not public
    "http://internal.example/",
    "http://mixed.example/",
    "http://v6loop.example/",
    "http://mapped.example/",
    "http://metadata.example/",
]
SCHEMES_AND_SHAPES = [
    "file:///etc/passwd",
    "ftp://public.example/",
    "gopher://127.0.0.1:70/",
    "dict://127.0.0.1:11211/",
    "data:text/html,hello",
    "javascript:alert(1)",
    "http://public.example@127.0.0.1/",
    "http://user:pw@public.example/",
    "http://public.example\\@127.0.0.1/",
    "http://[::1/",
    "not a url",
    "http:///nohost",
]
CASES = LOOPBACK + PRIVATE + METADATA + NAMES + SCHEMES_AND_SHAPES


@pytest.fixture
async def strict(
    resolver: StaticResolver, guard: LoopbackOnlyBackend
) -> AsyncIterator[PageFetcher]:
    """The default policy (no allowlist) with the recording backend."""
    async with PageFetcher(FetchConfig(), resolver=resolver, network_backend=guard) as fetcher:
        yield fetcher


@pytest.mark.parametrize("url", CASES)
async def test_every_case_is_refused(
    url: str, strict: PageFetcher, guard: LoopbackOnlyBackend
) -> None:
    result = await strict.tool().invoke({"url": url})
    assert result.is_error, result.content
    assert "refused" in result.content or "not a valid URL" in result.content, result.content
    assert guard.attempts == [], f"a connection was attempted: {guard.attempts}"


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:1/",
        "http://localhost:{port}/apple.html",
        "http://[::1]:{port}/apple.html",
        "http://2130706433:{port}/apple.html",
        "http://0x7f.1:{port}/apple.html",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://internal.example/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "file:///etc/passwd",
        "/redirect?to=" + quote("http://192.168.0.1/", safe=""),  # two hops, the second blocked
    ],
)
async def test_redirect_from_an_allowed_host_to_a_blocked_one_is_refused(
    web: CorpusServer, fetcher: PageFetcher, guard: LoopbackOnlyBackend, target: str
) -> None:
    url = f"{web.url}/redirect?to={quote(target.format(port=web.port), safe='')}"
    result = await fetcher.tool().invoke({"url": url})
    assert (
        result.is_error and "refused" in result.content and "reached by redirect" in result.content
    )
    assert set(guard.attempts) == {("127.0.0.1", web.port)}  # only the allowlisted fixture
    assert guard.refused == []


async def test_dns_rebinding_cannot_swap_the_address(resolver: StaticResolver) -> None:
    guard = LoopbackOnlyBackend()
    async with PageFetcher(FetchConfig(), resolver=resolver, network_backend=guard) as fetcher:
        first = await fetcher.tool().invoke({"url": "http://rebind.example/"})
        # The vetted public address is the one the socket was asked for (the recorder
        # refused it, so nothing left the machine); the name was resolved exactly once.
        assert first.is_error and guard.attempts == [("93.184.216.34", 80)]
        assert resolver.calls == ["rebind.example"]
        second = await fetcher.tool().invoke({"url": "http://rebind.example/"})
        assert second.is_error and "resolves to 127.0.0.1" in second.content
    assert guard.attempts == [("93.184.216.34", 80)]


async def test_public_address_reaches_the_socket_layer_only_as_the_vetted_ip(
    strict: PageFetcher, guard: LoopbackOnlyBackend
) -> None:
    result = await strict.tool().invoke({"url": "http://public.example:8080/page"})
    assert result.is_error and "could not fetch" in result.content  # refused by the recorder
    assert guard.attempts == [("93.184.216.34", 8080)]


async def test_allowlist_opens_exactly_what_it_names(
    web: CorpusServer, resolver: StaticResolver
) -> None:
    for allow, ok in (
        ([web.host_port], True),
        (["127.0.0.1:1"], False),
        (["127.0.0.0/8"], True),
        (["::1/128"], False),
    ):
        guard = LoopbackOnlyBackend()
        config = FetchConfig(ssrf=SSRFPolicy(allow=allow))
        async with PageFetcher(config, resolver=resolver, network_backend=guard) as fetcher:
            result = await fetcher.tool().invoke({"url": f"{web.url}/apple.html"})
        assert result.is_error is not ok, (allow, result.content)
    with pytest.raises(ValueError, match="bad allowlist entry"):  # pydantic wraps the ConfigError
        SSRFPolicy(allow=["host:notaport"])


async def test_guard_is_on_by_default_and_can_be_switched_off(
    web: CorpusServer, resolver: StaticResolver
) -> None:
    assert FetchConfig().ssrf.enabled
    config = FetchConfig(ssrf=SSRFPolicy(enabled=False))
    async with PageFetcher(
        config, resolver=resolver, network_backend=LoopbackOnlyBackend()
    ) as fetcher:
        result = await fetcher.tool().invoke({"url": f"{web.url}/apple.html"})
    assert not result.is_error


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
     ("10.1", "10.0.0.1"), ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"), ("3232235521", "192.168.0.1")],
)  # fmt: skip
def test_numeric_encodings_decode_like_inet_aton(host: str, address: str) -> None:
    assert parse_ip(host) == (ipaddress.ip_address(address), False)


def test_public_addresses_pass_the_classifier() -> None:
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"):
        assert blocked_reason(ipaddress.ip_address(address)) is None
