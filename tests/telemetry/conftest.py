"""Tracing on for a test, along both of thinktank's span paths: through a real SDK tracer
provider (a user's own, ``configure(tracer_provider=...)``) into the SDK's in-memory
exporter, and along the path of the OTLP export the ``OTEL_*`` variables configure
(spans as plain data, :mod:`thinktank.telemetry._pipe`), each batch rebuilt into SDK
spans exactly as the exporting process rebuilds it. The collector tests send them over
OTLP instead."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from thinktank import telemetry
from thinktank.telemetry._pipe import PipeProvider
from thinktank.telemetry._sidecar import _spans, frame


class Spans:
    """The finished spans of a test, and their tree."""

    def __init__(
        self, exporter: InMemorySpanExporter, flush: Callable[[], Any] = lambda: None
    ) -> None:
        self.exporter = exporter
        self.flush = flush

    def all(self) -> list[ReadableSpan]:
        self.flush()
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


def pipe_provider(exporter: InMemorySpanExporter) -> PipeProvider:
    """The OTLP export's provider, its batches going to ``exporter`` as the exporting
    process gets them (rebuilt from the pipe's bytes) instead of to a child."""

    def send(resource: Any, schema_url: str, spans: list[Any]) -> None:
        exporter.export(_spans(frame(resource, schema_url, spans)))

    return PipeProvider(Resource.create({"service.name": "t"}), sampling.DEFAULT_ON, send=send)


@contextmanager
def traced(path: str, capture: bool | telemetry.ContentCapture) -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    if path == "sdk":
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        telemetry.configure(tracer_provider=provider, capture_content=capture)
        try:
            yield Spans(exporter)
        finally:
            telemetry.shutdown()
            provider.shutdown()
    else:
        pipe = pipe_provider(exporter)
        telemetry.configure(tracer_provider=pipe, capture_content=capture)
        try:
            yield Spans(exporter, pipe.force_flush)
        finally:
            telemetry.shutdown()
            pipe.shutdown()


PATHS = ["sdk", "pipe"]


@pytest.fixture(params=PATHS)
def spans(request: pytest.FixtureRequest) -> Iterator[Spans]:
    with traced(request.param, capture=False) as out:
        yield out


@pytest.fixture(params=PATHS)
def spans_with_content(request: pytest.FixtureRequest) -> Iterator[Spans]:
    with traced(request.param, capture=True) as out:
        yield out
