"""What a response body is (HTML, text, binary) and how to read it within a byte cap."""

from __future__ import annotations

import re
from typing import Literal

import httpx

Kind = Literal["html", "text", "binary", "unknown"]

_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_TEXT_TYPES = {
    "application/json", "application/xml", "application/javascript", "application/ecmascript",
    "application/x-yaml", "application/yaml", "application/toml", "application/x-sh",
    "application/sql", "application/csv", "application/rss+xml", "application/atom+xml",
}  # fmt: skip
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"7z\xbc\xaf",
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)


def kind_of(content_type: str) -> Kind:
    """Classify by the ``Content-Type`` header alone (``unknown``: sniff the body)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _HTML_TYPES:
        return "html"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml")):
        return "text"
    if not mime or mime in ("application/octet-stream", "binary/octet-stream"):
        return "unknown"
    if mime.startswith(_BINARY_PREFIXES) or mime.startswith("application/"):
        return "binary"
    return "unknown"


def sniff(body: bytes) -> Kind:
    """Classify a body with no useful ``Content-Type`` by its first bytes."""
    head = body[:2048]
    if head.startswith(_MAGIC) or b"\x00" in head:
        return "binary"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return "html"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            return "binary"
    return "text"


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """Read the decoded body up to ``cap`` bytes; returns ``(body, cut)``.

    The cap counts decompressed bytes, so a small gzip bomb cannot get past it.
    """
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        room = cap - len(buffer)
        if len(chunk) > room:
            buffer += chunk[:room]
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer), False


def decode_body(body: bytes, content_type: str, *, html: bool) -> str:
    """Decode with the declared charset (header, then ``<meta>``), else UTF-8, else cp1252."""
    charset = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    if charset is None and html:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii", "ignore") if match else None
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # a character cut by the byte cap
            return body.decode("utf-8", errors="replace")
        return body.decode("cp1252", errors="replace")
