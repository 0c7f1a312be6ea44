"""Tracing on for a test: thinktank's spans go through a real SDK tracer provider into
the SDK's in-memory exporter (the collector tests send them over OTLP instead)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from thinktank import telemetry


class Spans:
    """The finished spans of a test, and their tree."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name.startswith(prefix)]

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        sid = span.context.span_id
        return [s for s in self.all() if s.parent is not None and s.parent.span_id == sid]

    def roots(self) -> list[ReadableSpan]:
        ids = {s.context.span_id for s in self.all()}
        return [s for s in self.all() if s.parent is None or s.parent.span_id not in ids]

    def tree(self, span: ReadableSpan | None = None) -> Any:
        """``(name, [subtrees])`` from ``span`` (the one root when None), children sorted."""
        if span is None:
            [span] = self.roots()
        return (span.name, sorted(self.tree(c) for c in self.children(span)))


@pytest.fixture
def spans() -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.configure(tracer_provider=provider, capture_content=False)
    try:
        yield Spans(exporter)
    finally:
        telemetry.shutdown()
        provider.shutdown()


@pytest.fixture
def spans_with_content() -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.configure(tracer_provider=provider, capture_content=True)
    try:
        yield Spans(exporter)
    finally:
        telemetry.shutdown()
        provider.shutdown()
