"""OTLP's protobuf bytes straight from the pipe's tuples, in the exporting process.

The official encoder builds a protobuf object for every span, attribute and value
(about 65 µs a span of thinktank's here, most of the exporting process's work); this
writes the same bytes — ``ExportTraceServiceRequest`` as the official
``encode_spans`` serializes it, field for field — from :data:`~thinktank.telemetry.
_sidecar.Flat` tuples, with the encoding of each attribute name and of each recurring
name/value pair kept (a few µs a span). The exporting process hands the request to the
official exporter of the configured protocol, which sends it as it sends its own
(endpoint, headers, compression, retries); a batch this cannot encode exactly (span
limits to apply, a value of a type it does not know) takes the official path.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger("thinktank.telemetry")

_DOUBLE = struct.Struct("<d")
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_SPAN_FLAGS = (_FIXED32.pack(0x100), _FIXED32.pack(0x300))  # has is_remote; is remote


_SMALL = [bytes((n,)) if n < 0x80 else bytes(((n & 0x7F) | 0x80, n >> 7)) for n in range(1 << 14)]


def _varint(n: int) -> bytes:
    if n < 0x4000:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: int, data: bytes) -> bytes:
    """A length-delimited field (``tag`` is the field's key byte)."""
    return _SMALL[tag] + _varint(len(data)) + data


class Unsupported(ValueError):
    """What the official encoder would treat otherwise: the batch takes its path."""


class Encoder:
    """Encodes batches; remembers attribute names and recurring name/value pairs."""

    MAX_PAIRS = 4096

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._strings: dict[tuple[int, str, str], bytes] = {}
        # a batch's shared attribute dicts, by id while the batch is encoded: (dict, bytes)
        self._shared: dict[int, tuple[Mapping[str, Any], bytes]] = {}

    # --- values ---------------------------------------------------------------------

    def value(self, v: Any) -> bytes:
        """An ``AnyValue`` message's bytes (as the official ``_encode_value``)."""
        if v is None:
            return b""
        if isinstance(v, bool):
            return b"\x10\x01" if v else b"\x10\x00"
        if isinstance(v, str):
            return _field(0x0A, v.encode())
        if isinstance(v, int):
            if not _INT64_MIN <= v <= _INT64_MAX:
                raise Unsupported(f"integer {v} is out of int64's range")
            return b"\x18" + _varint(v & 0xFFFFFFFFFFFFFFFF)
        if isinstance(v, float):
            return b"\x21" + _DOUBLE.pack(v)
        if isinstance(v, bytes):
            return _field(0x3A, v)
        if isinstance(v, Sequence):
            return _field(0x2A, b"".join(_field(0x0A, self.value(x)) for x in v))
        if isinstance(v, Mapping):
            return _field(0x32, b"".join(_field(0x0A, self.pair(str(k), x)) for k, x in v.items()))
        raise Unsupported(f"a value of type {type(v).__name__}")

    def pair(self, key: str, v: Any) -> bytes:
        """A ``KeyValue`` message's bytes."""
        k = self._keys.get(key)
        if k is None:
            k = self._keys[key] = _field(0x0A, key.encode()) if key else b""
        if type(v) is int and 0 <= v < 0x4000:  # a count: AnyValue{int_value}
            small = _SMALL[v]
            return k + b"\x12" + _SMALL[len(small) + 1] + b"\x18" + small
        return k + _field(0x12, self.value(v))

    def attributes(self, tag: int, attrs: Mapping[str, Any] | None) -> bytes:
        """Repeated ``KeyValue`` fields; a name/value pair of strings is encoded once."""
        if not attrs:
            return b""
        t = _SMALL[tag]
        strings = self._strings
        out = []
        for item in attrs.items():
            if type(item[1]) is str:
                e = strings.get((tag, *item))
                if e is None:
                    if len(strings) >= self.MAX_PAIRS:
                        strings.clear()
                    kv = self.pair(*item)
                    e = strings[(tag, *item)] = t + _varint(len(kv)) + kv
            else:
                kv = self.pair(*item)
                e = t + _varint(len(kv)) + kv
            out.append(e)
        return b"".join(out)

    # --- spans ----------------------------------------------------------------------

    def span(self, s: tuple[Any, ...]) -> bytes:
        (
            name, trace_id, span_id, _flags, parent, kind, start, end, attrs, events, code,
            description, _scope, trace_state, links, shared,
        ) = s  # fmt: skip
        out = [
            b"\x0a\x10" + trace_id.to_bytes(16, "big"),
            b"\x12\x08" + span_id.to_bytes(8, "big"),
        ]
        if trace_state:
            out.append(_field(0x1A, trace_state.encode()))
        if parent is not None:
            out.append(b"\x22\x08" + parent[0].to_bytes(8, "big"))
        if name:
            out.append(_field(0x2A, name.encode()))
        out.append(b"\x30" + _varint(kind + 1))  # SpanKind INTERNAL=0 is OTLP's 1
        if start:
            out.append(b"\x39" + _FIXED64.pack(start))
        if end:
            out.append(b"\x41" + _FIXED64.pack(end))
        if not shared:
            out.append(self.attributes(0x4A, attrs))
        elif attrs and not attrs.keys().isdisjoint(shared):  # a value of its own wins
            out.append(self.attributes(0x4A, {**shared, **attrs}))
        else:  # the shared attributes, encoded once a batch, then its own
            known = self._shared.get(id(shared))
            if known is None or known[0] is not shared:
                known = self._shared[id(shared)] = (shared, self.attributes(0x4A, shared))
            out.append(known[1])
            out.append(self.attributes(0x4A, attrs))
        for ev_name, ev_attrs, ts in events:
            ev = (b"\x09" + _FIXED64.pack(ts) if ts else b"") + (
                _field(0x12, ev_name.encode()) if ev_name else b""
            )
            out.append(_field(0x5A, ev + self.attributes(0x1A, ev_attrs)))
        for l_trace, l_span, _lf, l_remote, l_attrs in links:
            link = (
                b"\x0a\x10" + l_trace.to_bytes(16, "big")
                + b"\x12\x08" + l_span.to_bytes(8, "big")
                + self.attributes(0x22, l_attrs)
                + b"\x35" + _SPAN_FLAGS[bool(l_remote)]
            )  # fmt: skip
            out.append(_field(0x6A, link))
        status = (b"\x12" + _varint(len(d := description.encode())) + d if description else b"") + (
            b"\x18" + _varint(code) if code else b""
        )
        out.append(_field(0x7A, status))
        out.append(b"\x85\x01" + _SPAN_FLAGS[parent is not None and bool(parent[1])])
        return b"".join(out)

    def request(
        self, resource: Mapping[str, Any], schema_url: str, spans: Sequence[tuple[Any, ...]]
    ) -> bytes:
        """An ``ExportTraceServiceRequest``'s bytes: one resource, its scopes in the order
        they first come, each with its spans (as the official encoder groups them)."""
        scopes: dict[Any, list[bytes]] = {}
        try:
            for s in spans:
                scopes.setdefault(s[12], []).append(self.span(s))
        finally:
            self._shared.clear()
        scope_spans = []
        for scope, encoded in scopes.items():
            if scope is None:
                head = b"\x0a\x00"
            else:
                name, version = scope
                head = _field(
                    0x0A,
                    (_field(0x0A, name.encode()) if name else b"")
                    + (_field(0x12, version.encode()) if version else b""),
                )
            body = b"".join(b"\x12" + _varint(len(e)) + e for e in encoded)
            scope_spans.append(_field(0x12, head + body))
        rs = (
            _field(0x0A, self.attributes(0x0A, resource))
            + b"".join(scope_spans)
            + (_field(0x1A, schema_url.encode()) if schema_url else b"")
        )
        return _field(0x0A, rs)


class Prepared(Sequence[Any]):
    """A batch already encoded, as the exporter is handed it: its length is its number of
    spans (what the exporter counts), ``request`` the ``ExportTraceServiceRequest``."""

    def __init__(self, request: Any, n: int) -> None:
        self.request = request
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        raise IndexError(i)


def take_prepared(exporter: Any) -> bool:
    """Let ``exporter`` (an official OTLP span exporter) send :class:`Prepared` batches:
    its module's ``encode_spans``, which its ``export`` calls, hands their request back
    as it is and encodes anything else as before. False (nothing changed) when that
    module does not encode with the official ``encode_spans`` by that name."""
    import sys

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official

    module = sys.modules.get(type(exporter).__module__)
    if module is None or getattr(module, "encode_spans", None) is not official:
        return False

    def encode_spans(spans: Any) -> Any:
        request = getattr(spans, "request", None)
        return request if request is not None else official(spans)

    module.encode_spans = encode_spans  # type: ignore[attr-defined]
    return True
