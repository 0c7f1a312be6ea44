"""OTLP export in a process of its own, so encoding spans never holds the traced
process's interpreter.

The OTLP exporters encode each span in Python (about four times what making the span
costs), on the batch processor's thread, under the interpreter lock that the traced
program's event loop needs. :class:`ProcessExporter` hands each batch instead, as plain
tuples (a few µs a span), to a child process (``python -m thinktank.telemetry._sidecar``,
with the same ``OTEL_*`` environment) that rebuilds the spans and exports them with the
official OTLP exporter of the configured protocol. Closing the exporter closes the pipe;
the child exports what it has, then exits (as it does if the parent dies).
"""

from __future__ import annotations

import logging
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("thinktank.telemetry")

_HEADER = struct.Struct("!I")


def _flat(span: ReadableSpan) -> tuple[Any, ...]:
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
    )


class ProcessExporter(SpanExporter):
    """A span exporter that passes batches to the exporting child process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._warned = False
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "thinktank.telemetry._sidecar"], stdin=subprocess.PIPE
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        resource = spans[0].resource
        frame = pickle.dumps(
            (dict(resource.attributes), resource.schema_url, [_flat(s) for s in spans]),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None:
                return SpanExportResult.FAILURE
            try:
                proc.stdin.write(_HEADER.pack(len(frame)) + frame)
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "the span exporting process ended (its error is above): spans are "
                        "dropped from now on"
                    )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        """Close the pipe and wait for the child to export what it was given."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            log.warning("the span exporting process did not finish; stopping it")
            proc.kill()
            proc.wait(timeout=10)


def _spans(frame: bytes) -> list[ReadableSpan]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource_attrs, schema_url, flat = pickle.loads(frame)
    resource = Resource(resource_attrs, schema_url)
    scopes: dict[Any, InstrumentationScope] = {}
    out = []
    for (
        name, trace_id, span_id, flags, parent, kind, start, end, attrs, events, code,
        description, scope,
    ) in flat:  # fmt: skip
        if scope is not None and scope not in scopes:
            scopes[scope] = InstrumentationScope(scope[0], scope[1])
        out.append(
            ReadableSpan(
                name=name,
                context=SpanContext(trace_id, span_id, False, TraceFlags(flags)),
                parent=None
                if parent is None
                else SpanContext(trace_id, parent[0], parent[1], TraceFlags(flags)),
                resource=resource,
                attributes=attrs,
                events=[Event(n, a, t) for n, a, t in events],
                kind=SpanKind(kind),
                status=Status(StatusCode(code), description),
                start_time=start,
                end_time=end,
                instrumentation_scope=scopes.get(scope) if scope is not None else None,
            )
        )
    return out


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
    exporter = otlp_exporter()
    stream = sys.stdin.buffer
    try:
        while (header := _read(stream, _HEADER.size)) is not None:
            frame = _read(stream, _HEADER.unpack(header)[0])
            if frame is None:
                break
            exporter.export(_spans(frame))
    finally:
        exporter.shutdown()


if __name__ == "__main__":
    main()
