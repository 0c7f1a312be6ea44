"""SSRF guard: which URLs a model may make thinktank fetch.

Two layers, both driven by one :class:`SSRFPolicy`:

* :meth:`SSRFPolicy.check_url` looks at the URL text before anything is sent:
  only ``http``/``https``, no credentials, no disagreement between URL parsers,
  no numeric-encoding tricks (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
  ``127.1``), no literal address or well-known local name that is blocked.
* :meth:`SSRFPolicy.vet` runs inside the connection itself (see
  :mod:`thinktank.tools.web._transport`): it resolves *every* A/AAAA record,
  refuses the host if any record is blocked, and hands back the vetted addresses
  that the socket then connects to. Check and connect use the same answer, so DNS
  rebinding between them cannot win.

Blocked: loopback, private, link-local, CGNAT (100.64/10), unique-local
(fc00::/7), site-local, multicast, unspecified, reserved and other non-global
ranges, cloud metadata addresses, and IPv6 forms that embed an IPv4 address
(IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo). An explicit allowlist of
hosts (``name``, ``name:port``, ``[v6]:port``) or networks (CIDR) opens holes on
purpose, e.g. for a loopback test server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import ConfigDict, Field, PrivateAttr

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError, ToolCallError
from thinktank.tools.errors import BlockedURL, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
"""Cloud instance-metadata endpoints (AWS, ECS, Alibaba); named specially in refusals."""

BLOCKED_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "metadata.google.internal",
    }
)
"""Host names refused without asking DNS (plus anything under ``.localhost``)."""

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_V4_COMPAT = ipaddress.ip_network("::/96")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# IANA special-purpose ranges that are not globally reachable, listed here rather
# than taken from ``ipaddress`` alone, whose notion of "global" varies by Python version.
_SPECIAL = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("192.0.0.0/24", "an IETF protocol-assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("240.0.0.0/4", "a reserved address"),
        ("100::/64", "a discard-only IPv6 address"),
        ("2001::/23", "an IETF protocol-assignment IPv6 address"),
        ("2001:db8::/32", "a documentation IPv6 address"),
        ("3fff::/20", "a documentation IPv6 address"),
        ("5f00::/16", "a segment-routing IPv6 address"),
    )
)
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched, or ``None`` when it is a public address."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"an IPv4-mapped IPv6 address (of {ip.ipv4_mapped})"
        if ip in _V4_COMPAT and int(ip) > 1:
            return "an IPv4-compatible IPv6 address"
        if ip.sixtofour is not None:
            return f"a 6to4 address (of {ip.sixtofour})"
        if any(ip in net for net in _NAT64):
            return "a NAT64 address"
        if ip.teredo is not None:
            return "a Teredo address"
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip in _CGNAT, "a carrier-grade NAT address (100.64.0.0/10)"),
        (ip in _ULA, "a unique-local IPv6 address (fc00::/7)"),
        (ip in _SITE_LOCAL, "a site-local IPv6 address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    for net, label in _SPECIAL:
        if ip.version == net.version and ip in net:
            return label
    if not ip.is_global:
        return "not a globally routable address"
    return None


def normalize_host(host: str) -> str:
    """Lower-case, NFKC-fold (full-width digits), strip brackets and a trailing dot."""
    host = unicodedata.normalize("NFKC", host).strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") else host


def parse_ip(host: str) -> tuple[IPAddress, bool] | None:
    """Parse ``host`` as an address the way permissive resolvers (``inet_aton``) would.

    Returns ``(address, canonical)`` where ``canonical`` is False for any form other
    than plain dotted-quad or standard IPv6 (decimal, hex, octal, short forms);
    ``None`` when the host is a name. A host whose last label is numeric but does
    not decode is treated as a trick too (it is no valid domain name).
    """
    host = normalize_host(host)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]), True
    except ValueError:
        pass
    parts = host.split(".")
    if not parts or not _NUMERIC_PART.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        return ipaddress.IPv4Address(0), False  # numeric-looking junk: refuse, never resolve
    try:
        values = [
            int(p, 16)
            if p.startswith("0x")
            else int(p, 8)
            if len(p) > 1 and p[0] == "0"
            else int(p)
            for p in parts
        ]
    except ValueError:  # "0x" alone or an invalid octal such as "08"
        return ipaddress.IPv4Address(0), False
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return ipaddress.IPv4Address(0), False
    number = 0
    for v in head:
        number = number * 256 + v
    number = (number << (8 * (5 - len(values)))) + last
    return ipaddress.IPv4Address(number), False


def _same_host(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return a.encode("idna") == b.encode("idna")
    except UnicodeError:
        return False


class Resolver(Protocol):
    """Name resolution used by the guard; tests inject :class:`StaticResolver`."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to; raise :class:`FetchError` when none."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), run off the event loop."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"could not resolve host {host!r} ({exc})", url=host) from exc
        out: list[IPAddress] = []
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in out:
                out.append(ip)
        return out


class StaticResolver:
    """A resolver answering from a table, for tests and offline runs; never touches DNS.

    ``records`` maps a host to its addresses, or to a list of address lists that are
    answered in turn (the last one repeats), which models a rebinding DNS server.
    ``calls`` records every host asked for.
    """

    def __init__(self, records: Mapping[str, Sequence[str] | Sequence[Sequence[str]]]) -> None:
        self.records: dict[str, list[list[str]]] = {}
        for host, answer in records.items():
            turns = [[a] if isinstance(a, str) else list(a) for a in answer]
            flat = all(isinstance(a, str) for a in answer)
            self.records[normalize_host(host)] = [[str(a) for a in answer]] if flat else turns
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        host = normalize_host(host)
        self.calls.append(host)
        turns = self.records.get(host)
        if not turns or not turns[0]:
            raise FetchError(f"could not resolve host {host!r} (not in the static table)", url=host)
        turn = min(self.calls.count(host), len(turns)) - 1
        return [ipaddress.ip_address(a) for a in turns[turn]]


class SSRFPolicy(StrictModel):
    """What the fetcher may connect to. On by default; ``allow`` opens explicit holes."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    enabled: bool = True
    """Refuse non-public addresses. Turn off only where every URL is trusted."""
    allow: list[str] = Field(default_factory=list)
    """Exceptions: ``host``, ``host:port``, ``[v6]:port`` or a CIDR such as ``127.0.0.0/8``."""

    _hosts: set[tuple[str, int | None]] = PrivateAttr(default_factory=set)
    _networks: list[IPNetwork] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: object) -> None:
        for entry in self.allow:
            text = entry.strip().lower()
            try:
                if "/" in text:
                    self._networks.append(ipaddress.ip_network(text, strict=False))
                    continue
                host, port = text, None
                if text.startswith("["):
                    host, _, rest = text[1:].partition("]")
                    port = int(rest[1:]) if rest.startswith(":") else None
                elif text.count(":") == 1:
                    host, _, port_text = text.partition(":")
                    port = int(port_text)
                self._hosts.add((normalize_host(host), port))
            except ValueError as exc:
                raise ConfigError(
                    f"bad allowlist entry {entry!r}: use host, host:port or a CIDR"
                ) from exc

    def host_allowed(self, host: str, port: int | None) -> bool:
        host = normalize_host(host)
        return (host, None) in self._hosts or (host, port) in self._hosts

    def ip_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._networks)

    def check_url(self, url: str) -> httpx.URL:
        """Refuse a URL on its text alone; returns it parsed. Raises :class:`BlockedURL`."""
        try:
            split = urlsplit(url.strip())
            split_host = split.hostname or ""
            if split.scheme.lower() not in ("http", "https"):
                raise BlockedURL(f"refused {url!r}: only http and https URLs can be fetched")
            parsed = httpx.URL(url.strip())
        except (httpx.InvalidURL, ValueError) as exc:
            raise ToolCallError(f"{url!r} is not a valid URL ({exc})") from exc
        if not parsed.host:
            raise ToolCallError(f"{url!r} is not a valid URL (no host)")
        if not self.enabled:
            return parsed
        if parsed.userinfo or split.username is not None:
            raise BlockedURL(f"refused {url!r}: URLs with user names or passwords are not fetched")
        host = normalize_host(parsed.host)
        if not _same_host(normalize_host(split_host), host):
            raise BlockedURL(f"refused {url!r}: the host is ambiguous ({split_host!r} vs {host!r})")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._check_host(host, port, url)
        return parsed

    def _check_host(self, host: str, port: int, url: str) -> IPAddress | None:
        """Checks that need no DNS; returns the address when the host is a literal."""
        if self.host_allowed(host, port):
            literal = parse_ip(host)
            return literal[0] if literal and literal[1] else None
        literal = parse_ip(host)
        if literal is not None:
            ip, canonical = literal
            if not canonical:
                raise BlockedURL(
                    f"refused {url!r}: {host!r} is a non-standard numeric encoding of an IP "
                    "address; write public addresses in dotted-quad form"
                )
            reason = None if self.ip_allowed(ip) else blocked_reason(ip)
            if reason:
                raise BlockedURL(
                    f"refused {url!r}: {ip} is {reason}; only public web addresses can be fetched"
                )
            return ip
        if host in BLOCKED_NAMES or host.endswith(".localhost"):
            raise BlockedURL(
                f"refused {url!r}: {host!r} names this machine or its metadata service"
            )
        return None

    async def vet(self, host: str, port: int, resolver: Resolver) -> list[IPAddress]:
        """Resolve ``host`` and return the addresses a connection may use.

        Refuses when any record is blocked (so a mixed answer cannot be raced).
        """
        host = normalize_host(host)
        where = f"{host}:{port}"
        if not self.enabled:
            literal = parse_ip(host)
            return [literal[0]] if literal and literal[1] else await resolver.resolve(host, port)
        ip = self._check_host(host, port, where)
        if ip is not None:
            return [ip]
        addresses = await resolver.resolve(host, port)
        if not addresses:
            raise FetchError(f"host {host!r} has no addresses", url=where)
        if not self.host_allowed(host, port):
            for address in addresses:
                reason = None if self.ip_allowed(address) else blocked_reason(address)
                if reason:
                    raise BlockedURL(
                        f"refused {where}: {host!r} resolves to {address}, which is {reason}; "
                        "only public web addresses can be fetched"
                    )
        return addresses
