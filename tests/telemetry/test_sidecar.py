"""OTLP export in a child process: a batch crosses the pipe as plain data and is rebuilt
into spans the OTLP encoder turns into the very bytes the originals give."""

from __future__ import annotations

import pickle

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from thinktank.telemetry._sidecar import ProcessExporter, _flat, _spans


def test_a_batch_survives_the_trip_to_the_exporting_process() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "t", "k": 1}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("thinktank", "0.1.0")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "chat bo8",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"gen_ai.usage.input_tokens": 12, "gen_ai.response.finish_reasons": ("stop",)},
    ):
        with tracer.start_as_current_span("invoke_agent solver") as inner:
            inner.record_exception(RuntimeError("boom"))
            inner.set_status(trace.Status(StatusCode.ERROR, "RuntimeError: boom"))
            inner.set_attribute("gen_ai.usage.cost", 0.25)
    spans = exporter.get_finished_spans()
    frame = pickle.dumps(
        (
            dict(spans[0].resource.attributes),
            spans[0].resource.schema_url,
            [_flat(s) for s in spans],
        )
    )
    rebuilt = _spans(frame)
    assert [s.name for s in rebuilt] == ["invoke_agent solver", "chat bo8"]
    assert rebuilt[1].parent is not None and rebuilt[1].parent.is_remote
    assert rebuilt[0].events[0].name == "exception"
    assert encode_spans(rebuilt).SerializeToString() == encode_spans(spans).SerializeToString()


def test_an_exporting_process_that_ended_drops_spans_without_failing_the_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the child cannot build its exporter (a protocol it refuses) and ends at once
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    exporter = ProcessExporter()
    assert exporter._proc is not None
    assert exporter._proc.wait(timeout=60) != 0
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
