"""The exporting process writes OTLP's protobuf from the pipe's tuples itself: the very
bytes the official encoder gives for the same spans, and the official path for what it
does not write exactly (span limits to apply, a value the official encoder drops)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

from thinktank import telemetry
from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies import topology
from thinktank.llm.testing import FunctionModel
from thinktank.telemetry._pipe import PipeProvider
from thinktank.telemetry._sidecar import Exports, _spans, frame, read_frame
from thinktank.telemetry._wire import Encoder, Prepared, take_prepared

from .test_pipe import Color, Opaque, calls


def frames_of(run: Any, resource: Resource | None = None) -> list[bytes]:
    """The frames the OTLP export's provider sends for what ``run(provider)`` records."""
    out: list[bytes] = []
    pipe = PipeProvider(
        resource or Resource({"service.name": "t", "n": 3, "ok": True, "tags": ("a", "b")}),
        TracerProvider().sampler,
        send=lambda res, url, spans: out.append(frame(res, url, spans)),
    )
    run(pipe)
    pipe.shutdown()
    return out


def official(data: bytes) -> bytes:
    return bytes(encode_spans(_spans(data)).SerializeToString())


def ours(data: bytes) -> bytes:
    resource, url, flat = read_frame(data, merge=False)  # as the exporting process reads
    return Encoder().request(resource, url, flat)


def odd_values(provider: Any) -> None:
    """Values of every type an attribute can hold, events, two scopes, one without a
    version, a span with an empty name."""
    a = provider.get_tracer("thinktank", "1.0")
    b = provider.get_tracer("other.library")
    span = a.start_span("values", kind=SpanKind.PRODUCER)
    span.set_attributes(
        {
            "s": "text ünïcode ✓",
            "empty": "",
            "t": True,
            "f": False,
            "zero": 0,
            "neg": -5,
            "big": 2**62,
            "small": 127,
            "edge": 128,
            "wide": 16384,
            "pi": math.pi,
            "nan": math.nan,
            "negzero": -0.0,
            "bytes": b"\x00\xff",
            "strs": ["a", "b"],
            "ints": (1, 2, 3),
            "mixed": ("a", 1, 2.5, True),
            "none_list": [],
            "map": {"k": "v", "n": 1, "inner": {"x": [1, 2]}},
            "enum": Color.RED,
            "opaque": Opaque(),
            "long": "x" * 20000,
        }
    )
    span.add_event("e", {"at": 1}, timestamp=12345)
    span.add_event("", {})
    with trace.use_span(span):
        inner = b.start_span("", kind=SpanKind.CONSUMER)
        inner.set_status(StatusCode.OK)
        inner.end()
    span.set_status(StatusCode.ERROR)  # no description
    span.end()


def shared_values(provider: Any) -> None:
    """Spans with attributes they share: one dict for three model calls and a sample (whose
    own value of a shared name wins), another dict for spans of a second batch's chunk."""
    tracer = provider.get_tracer("thinktank", "1.0")
    shared = {"gen_ai.request.model": "m", "server.port": 8000, "cost": 0.5}
    agent, token = tracer.enter("invoke_agent a", None, SpanKind.INTERNAL, {"s": 0}, shared)
    agent.set_attribute("server.port", 9000)
    for i in range(3):
        tracer.leaf_plain("chat m", SpanKind.CLIENT, {"n": i}, 1_000, 2_000, shared)
    tracer.leaf_plain("chat m", SpanKind.CLIENT, {}, 1_000, 2_000, {})
    tracer.exit(agent, token)
    tracer.leaf_plain("chat x", SpanKind.CLIENT, {"n": 9}, 1_000, 2_000, dict(shared))


@pytest.mark.parametrize(
    "run", [calls, odd_values, shared_values], ids=["calls", "values", "shared"]
)
def test_the_bytes_are_the_official_encoders(run: Any) -> None:
    def record(provider: Any) -> None:
        if run is calls:
            run(provider.get_tracer("thinktank", "1.0"))
        else:
            run(provider)

    [data] = frames_of(record)
    assert ours(data) == official(data)


@pytest.mark.parametrize("content", [True, False])  # without: model calls are leaf tuples
def test_a_graph_runs_spans_encode_to_the_official_bytes(content: bool) -> None:
    graph = compile(topology("best_of_n", n=3), models=FunctionModel(lambda r: "Answer: 2"))

    def run(provider: Any) -> None:
        telemetry.configure(tracer_provider=provider, capture_content=content)
        try:
            assert graph.run_sync("What is 1+1?").answer == "2"
        finally:
            telemetry.shutdown()

    data = frames_of(run)
    assert sum(len(read_frame(d)[2]) for d in data) == 1 + 3 + 3
    assert all(ours(d) == official(d) for d in data)


def test_what_it_cannot_write_exactly_takes_the_official_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def record(provider: Any) -> None:
        span = provider.get_tracer("t").start_span("s", attributes={"ok": 1})
        span.end()

    [plain] = frames_of(record)
    batch = Exports(direct=True).of(plain)
    assert isinstance(batch, Prepared) and len(batch) == 1
    assert batch.request == ExportTraceServiceRequest.FromString(official(plain))

    def huge(provider: Any) -> None:  # beyond int64: the official encoder drops it, logged
        span = provider.get_tracer("t").start_span("s", attributes={"n": 2**70, "ok": 1})
        span.end()

    [odd] = frames_of(huge)
    rebuilt = Exports(direct=True).of(odd)
    assert not isinstance(rebuilt, Prepared) and dict(rebuilt[0].attributes or {})["ok"] == 1

    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2")  # limits to apply
    limited = Exports(direct=True).of(plain)
    assert not isinstance(limited, Prepared)
    assert not isinstance(Exports(direct=False).of(plain), Prepared)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_official_exporters_take_an_encoded_request(
    monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    import sys

    from thinktank.telemetry._provider import exporter_class

    cls = exporter_class(protocol)
    module = sys.modules[cls.__module__]
    monkeypatch.setattr(module, "encode_spans", module.encode_spans)  # restored afterwards
    exporter = cls(endpoint="http://127.0.0.1:9", timeout=1)
    try:
        assert take_prepared(exporter)
        request = ExportTraceServiceRequest()
        assert module.encode_spans(Prepared(request, 3)) is request
        assert module.encode_spans([]) == encode_spans([])  # SDK spans: encoded as before
    finally:
        exporter.shutdown()
