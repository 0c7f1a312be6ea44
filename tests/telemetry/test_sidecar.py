"""OTLP export in a child process: a batch crosses the pipe as plain data and is rebuilt
into spans the OTLP encoder turns into the very bytes the originals give."""

from __future__ import annotations

import os

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
)

from thinktank.telemetry._batches import pack
from thinktank.telemetry._sidecar import (
    ProcessExporter,
    Sidecar,
    _flat,
    _spans,
    frame,
    read_frame,
)
from thinktank.telemetry._wire import Encoder


def test_a_batch_survives_the_trip_to_the_exporting_process() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "t", "k": 1}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("thinktank", "0.1.0")
    state = TraceState([("vendor", "v1")])
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    other = SpanContext(0x123, 0x456, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "chat bo8",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"gen_ai.usage.input_tokens": 12, "gen_ai.response.finish_reasons": ("stop",)},
    ):
        with tracer.start_as_current_span(
            "invoke_agent solver", links=[Link(other, {"why": "retry"})]
        ) as inner:
            inner.record_exception(RuntimeError("boom"))
            inner.set_status(trace.Status(StatusCode.ERROR, "RuntimeError: boom"))
            inner.set_attribute("gen_ai.usage.cost", 0.25)
    spans = exporter.get_finished_spans()
    resource = spans[0].resource
    rebuilt = _spans(
        frame(resource.attributes, resource.schema_url, [pack([_flat(s) for s in spans])])
    )
    assert [s.name for s in rebuilt] == ["invoke_agent solver", "chat bo8"]
    assert rebuilt[1].parent is not None and rebuilt[1].parent.is_remote
    assert rebuilt[0].events[0].name == "exception"
    assert rebuilt[0].context.trace_state == state  # carried from the client's header
    assert rebuilt[0].links[0].context.span_id == 0x456
    assert encode_spans(rebuilt).SerializeToString() == encode_spans(spans).SerializeToString()
    # and the exporting process's own encoding of the tuples gives the very same bytes
    data = frame(resource.attributes, resource.schema_url, [pack([_flat(s) for s in spans])])
    direct = Encoder().request(*read_frame(data))
    assert direct == encode_spans(spans).SerializeToString()


def test_a_forked_copy_of_the_process_does_not_write_into_the_pipe() -> None:
    sidecar = Sidecar()
    try:
        pid = os.fork()
        if pid == 0:  # the copy: its frames would interleave with the parent's
            os._exit(0 if sidecar.send({}, "", [("x",)]) is False else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        sidecar.close()


def test_an_exporting_process_that_ended_drops_spans_without_failing_the_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the child cannot build its exporter (a protocol it refuses) and ends at once
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    exporter = ProcessExporter()
    proc = exporter.sidecar._proc
    assert proc is not None
    assert proc.wait(timeout=60) != 0
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    span = provider.get_tracer("t").start_span("chat m")
    span.end()
    spans = [span]  # a finished SDK span is a ReadableSpan
    assert exporter.export(spans) == SpanExportResult.FAILURE
    assert exporter.export(spans) == SpanExportResult.FAILURE
    assert [r.message for r in caplog.records].count(
        "the span exporting process ended (its error is above): spans are dropped from now on"
    ) == 1
    exporter.shutdown()
