"""OTLP export in a process of its own, so encoding spans never holds the traced
process's interpreter.

Spans cross a pipe, in batches of plain tuples (:data:`Flat`), to a child process
(``python -m thinktank.telemetry._sidecar``, with the same ``OTEL_*`` environment) that
exports them with the official OTLP exporter of the configured protocol (its endpoint,
headers, compression, retries). The child writes the request's protobuf from the tuples
itself (:mod:`thinktank.telemetry._wire`: the bytes the official encoder gives, in a
sixth of its time), or, when the span limits the variables set
(``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` and the rest) have something to cut, rebuilds SDK
spans with the limits applied for the official encoder. :class:`Sidecar` is the child
and its pipe: thinktank's own spans (:mod:`thinktank.telemetry._pipe`) are tuples from
the start; :class:`ProcessExporter` is the SDK exporter that flattens SDK spans onto it.
Closing the pipe ends the child once it has exported what it has (it also ends if the
parent dies).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from thinktank.telemetry._batches import pack, unpack
from thinktank.telemetry._deferred import build

log = logging.getLogger("thinktank.telemetry")

_HEADER = struct.Struct("!I")

Flat = tuple[Any, ...]
"""One finished span as plain data: ``(name, trace_id, span_id, trace_flags, parent,
kind, start, end, attributes, events, status_code, status_description, scope,
trace_state, links, shared, deferred)`` — ``parent`` is ``(span_id, is_remote)`` or
None; ``shared`` None or attributes that come first and that the spans of one model or
agent share (one dict, written once a chunk; :func:`merged` merges them, and
:mod:`~thinktank.telemetry._wire` encodes them once a batch); ``deferred`` None or the
``(code, *values)`` that :func:`~thinktank.telemetry._deferred.build` makes attributes
of, in the exporting process (:func:`read_frame`: they come after the shared ones,
before the span's own); ``kind`` and ``status_code`` the enums' values; ``events``
``[(name, attributes, timestamp)]``; ``scope`` ``(name, version)`` or None;
``trace_state`` its W3C header or None; ``links`` ``[(trace_id, span_id, trace_flags,
is_remote, attributes)]``. Built of plain values only; ended spans wait in the traced
process as such tuples for at most a chunk's worth
(:data:`~thinktank.telemetry._batches.CHUNK`), then packed until their batch is sent.
What :func:`read_frame` gives has no ``deferred``: 16 values."""


def frame(resource: Mapping[str, Any], schema_url: str, chunks: list[bytes]) -> bytes:
    """One batch as it crosses the pipe (after its length): the resource and the spans,
    in chunks (:func:`~thinktank.telemetry._batches.pack`: a list of :data:`Flat`,
    packed)."""
    return pickle.dumps((dict(resource), schema_url, chunks), protocol=pickle.HIGHEST_PROTOCOL)


def read_frame(data: bytes, merge: bool = True) -> tuple[dict[str, Any], str, list[Flat]]:
    """``(resource attributes, schema URL, spans)`` of a :func:`frame`, the deferred
    attributes built; ``merge``: each span's shared attributes merged into its own (which
    win)."""
    resource, schema_url, chunks = pickle.loads(data)
    flat = [_built(s) for c in chunks for s in unpack(c)]
    return resource, schema_url, [merged(s) for s in flat] if merge else flat


def _built(s: Flat) -> Flat:
    """The span's deferred attributes built, before its own; the 16 values of a span
    without them."""
    extra = s[16]
    if extra is None:
        return s[:16]
    attrs = build(extra)
    if s[8]:
        attrs.update(s[8])
    return (*s[:8], attrs, *s[9:16])


def merged(s: Flat) -> Flat:
    """The span with its shared attributes merged into its own (which win)."""
    shared = s[15]
    if not shared:
        return s
    return (*s[:8], {**shared, **s[8]}, *s[9:15], None)


def _trace_state(ts: Any) -> str | None:
    return ts.to_header() if ts else None


def _flat(span: ReadableSpan) -> Flat:
    ctx, parent = span.context, span.parent
    status = span.status
    scope = span.instrumentation_scope
    return (
        span.name,
        ctx.trace_id,
        ctx.span_id,
        int(ctx.trace_flags),
        (parent.span_id, parent.is_remote) if parent is not None else None,
        span.kind.value,
        span.start_time,
        span.end_time,
        dict(span.attributes or {}),
        [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
        status.status_code.value,
        status.description,
        (scope.name, scope.version) if scope is not None else None,
        _trace_state(ctx.trace_state),
        [
            (
                k.context.trace_id, k.context.span_id, int(k.context.trace_flags),
                k.context.is_remote, dict(k.attributes or {}),
            )
            for k in span.links
        ],
        None,
        None,
    )  # fmt: skip


class Sidecar:
    """The exporting child process and the pipe to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._warned = False
        self._pid = os.getpid()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "thinktank.telemetry._sidecar"], stdin=subprocess.PIPE
        )

    def send(self, resource: Mapping[str, Any], schema_url: str, chunks: list[bytes]) -> bool:
        """Hand a batch to the child; False when it cannot take it (it ended, or this is a
        forked copy of the process that started it: its writes would break the stream)."""
        if not chunks:
            return True
        if os.getpid() != self._pid:
            return False
        data = frame(resource, schema_url, chunks)
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None:
                return False
            try:
                proc.stdin.write(_HEADER.pack(len(data)) + data)
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "the span exporting process ended (its error is above): spans are "
                        "dropped from now on"
                    )
                return False
        return True

    def close(self) -> None:
        """Close the pipe and wait for the child to export what it was given."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or os.getpid() != self._pid:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            log.warning("the span exporting process did not finish; stopping it")
            proc.kill()
            proc.wait(timeout=10)


class ProcessExporter(SpanExporter):
    """An SDK span exporter that passes batches of SDK spans to the exporting process
    (used when the provider is an SDK one: console and OTLP export together)."""

    def __init__(self) -> None:
        self.sidecar = Sidecar()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        resource = spans[0].resource
        chunk = pack([_flat(s) for s in spans])
        ok = self.sidecar.send(resource.attributes, resource.schema_url, [chunk])
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self.sidecar.close()


class _Rebuild:
    """SDK spans from a batch's tuples, with the span limits of the ``OTEL_*`` variables
    applied as the SDK applies them when a span is recorded."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import SpanLimits

        self.limits = limits = SpanLimits()
        self.attrs_max = limits.max_span_attributes
        self.attr_len = limits.max_span_attribute_length
        self.event_attrs_max = limits.max_event_attributes
        self.link_attrs_max = limits.max_link_attributes
        self.any_len = limits.max_attribute_length

    def _bounded(self, attrs: dict[str, Any], most: int | None, length: int | None) -> Any:
        if length is None and (most is None or len(attrs) <= most):
            return attrs  # within the limits: as it came (cleaned when it was set)
        from opentelemetry.attributes import BoundedAttributes

        return BoundedAttributes(most, attrs, immutable=True, max_value_len=length)

    def _listed(self, items: list[Any], most: int | None) -> Any:
        if most is None or len(items) <= most:
            return items
        from opentelemetry.sdk.util import BoundedList

        return BoundedList.from_seq(most, items)

    def within_limits(self, flat: list[Flat]) -> bool:
        """No span of ``flat`` has anything for the span limits to cut (nor do they cut
        values' lengths): its encoding is that of the tuples as they are."""
        if self.attr_len is not None or self.any_len is not None:
            return False
        big = 1 << 62
        most, ev_most, ev_attrs = (
            self.attrs_max or big,
            self.limits.max_events or big,
            (self.event_attrs_max or big),
        )
        links_most, link_attrs = self.limits.max_links or big, self.link_attrs_max or big
        for s in flat:
            attrs, events, links, shared = s[8], s[9], s[14], s[15]
            n = len(attrs) + len(shared) if shared else len(attrs)  # at most, once merged
            if n > most or len(events) > ev_most or len(links) > links_most:
                return False
            if any(len(e[1]) > ev_attrs for e in events):
                return False
            if any(len(k[4]) > link_attrs for k in links):
                return False
        return True

    def spans(self, data: bytes) -> list[ReadableSpan]:
        resource_attrs, schema_url, flat = read_frame(data)
        return self.spans_of(resource_attrs, schema_url, flat)

    def spans_of(
        self, resource_attrs: Mapping[str, Any], schema_url: str, flat: list[Flat]
    ) -> list[ReadableSpan]:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import Event
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import (
            Link,
            SpanContext,
            SpanKind,
            Status,
            StatusCode,
            TraceFlags,
            TraceState,
        )

        resource = Resource(resource_attrs, schema_url)
        scopes: dict[Any, InstrumentationScope] = {}
        limits = self.limits
        out = []
        for (
            name, trace_id, span_id, flags, parent, kind, start, end, attrs, events, code,
            description, scope, trace_state, links, _,
        ) in map(merged, flat):  # fmt: skip
            if scope is not None and scope not in scopes:
                scopes[scope] = InstrumentationScope(scope[0], scope[1])
            state = TraceState.from_header([trace_state]) if trace_state else None
            out.append(
                ReadableSpan(
                    name=name,
                    context=SpanContext(trace_id, span_id, False, TraceFlags(flags), state),
                    parent=None
                    if parent is None
                    else SpanContext(trace_id, parent[0], parent[1], TraceFlags(flags)),
                    resource=resource,
                    attributes=self._bounded(attrs, self.attrs_max, self.attr_len),
                    events=self._listed(
                        [
                            Event(n, self._bounded(a, self.event_attrs_max, self.any_len), t)
                            for n, a, t in events
                        ],
                        limits.max_events,
                    ),
                    links=self._listed(
                        [
                            Link(
                                SpanContext(t, s, r, TraceFlags(f)),
                                self._bounded(a, self.link_attrs_max, self.any_len),
                            )
                            for t, s, f, r, a in links
                        ],
                        limits.max_links,
                    ),
                    kind=SpanKind(kind),
                    status=Status(StatusCode(code), description),
                    start_time=start,
                    end_time=end,
                    instrumentation_scope=scopes.get(scope) if scope is not None else None,
                )
            )
        return out


def _spans(data: bytes) -> list[ReadableSpan]:
    """The SDK spans of one :func:`frame` (what the child exports)."""
    return _Rebuild().spans(data)


class Exports:
    """What the child hands its exporter for each frame: the request encoded from the
    tuples (:mod:`thinktank.telemetry._wire`) when the exporter takes it and nothing
    needs the SDK's span limits; else the SDK spans rebuilt, which the exporter encodes."""

    def __init__(self, direct: bool) -> None:
        from thinktank.telemetry._wire import Encoder

        self.rebuild = _Rebuild()
        self.encoder = Encoder() if direct else None

    def of(self, data: bytes) -> Sequence[Any]:
        resource, schema_url, flat = read_frame(data, merge=False)
        if self.encoder is not None and self.rebuild.within_limits(flat):
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )

            from thinktank.telemetry._wire import Prepared

            try:
                request = ExportTraceServiceRequest.FromString(
                    self.encoder.request(resource, schema_url, flat)
                )
            except Exception:  # a value the official encoder handles its own way
                log.debug("encoding a batch directly failed", exc_info=True)
            else:
                return Prepared(request, len(flat))
        return self.rebuild.spans_of(resource, schema_url, flat)


def _read(stream: IO[bytes], n: int) -> bytes | None:
    data = stream.read(n)
    return data if data and len(data) == n else None


def main() -> None:
    """The child: read batches from stdin until it closes, export each with the OTLP
    exporter the ``OTEL_*`` variables configure."""
    from thinktank.telemetry._provider import otlp_exporter

    # a Ctrl-C reaches the whole process group: the parent stops first and then closes
    # the pipe; this process exports until then
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from thinktank.telemetry._wire import take_prepared

    exporter = otlp_exporter()
    exports = Exports(direct=take_prepared(exporter))
    stream = sys.stdin.buffer
    try:
        while (header := _read(stream, _HEADER.size)) is not None:
            data = _read(stream, _HEADER.unpack(header)[0])
            if data is None:
                break
            try:
                batch = exports.of(data)
            except Exception:
                log.exception("a batch of spans could not be read; it is dropped")
                continue
            exporter.export(batch)
    finally:
        exporter.shutdown()


if __name__ == "__main__":
    main()
