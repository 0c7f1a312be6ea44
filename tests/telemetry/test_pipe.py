"""The OTLP export's own spans (:mod:`thinktank.telemetry._pipe`): what reaches the
exporter is what the SDK's spans give for the same calls — attributes cleaned the same
way, status rules, exceptions, events, links, trace state, the sampler and the span
limits of the ``OTEL_*`` variables — and they are real OpenTelemetry spans in the
context, so other instrumentation nests under them."""

from __future__ import annotations

import enum
import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import attach, detach
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
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

from thinktank.graphs.compiler import compile
from thinktank.graphs.topologies import topology
from thinktank.llm.testing import FunctionModel
from thinktank.llm.types import ChatRequest
from thinktank.telemetry import _deferred
from thinktank.telemetry._batches import CHUNK, Batches, pack, unpack
from thinktank.telemetry._pipe import PipeProvider
from thinktank.telemetry._sidecar import _spans, frame

from .conftest import Spans, traced


class Color(enum.IntEnum):
    RED = 1


class Name(enum.StrEnum):
    SOLVE = "solve"


class Opaque:
    def __str__(self) -> str:
        return "opaque"


def both(run: Callable[[trace.Tracer], None]) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """What ``run`` records through an SDK provider, and through the OTLP export's provider
    (rebuilt from the pipe's bytes as the exporting process rebuilds them)."""
    sdk_out = InMemorySpanExporter()
    sdk = TracerProvider(resource=Resource({"service.name": "t"}))
    sdk.add_span_processor(SimpleSpanProcessor(sdk_out))
    run(sdk.get_tracer("thinktank", "1.0"))
    pipe_out = InMemorySpanExporter()
    pipe = PipeProvider(
        Resource({"service.name": "t"}),
        sdk.sampler,
        send=lambda res, url, spans: pipe_out.export(_spans(frame(res, url, spans))),
    )
    run(pipe.get_tracer("thinktank", "1.0"))
    pipe.shutdown()
    return list(sdk_out.get_finished_spans()), list(pipe_out.get_finished_spans())


def without_stack(attrs: Any) -> dict[str, Any]:
    """An event's attributes, an exception's stack trace only said to be there (its frames
    differ between two tracers' code)."""
    out = dict(attrs or {})
    if "exception.stacktrace" in out:
        out["exception.stacktrace"] = "Traceback" in out["exception.stacktrace"]
    return out


def shape(spans: list[ReadableSpan]) -> list[Any]:
    """Everything of the spans but their random ids and clock times: names, kinds, tree,
    attributes, events, links, status, flags, trace state, scope."""
    index = {s.context.span_id: i for i, s in enumerate(spans)}
    out = []
    for s in spans:
        parent = s.parent
        out.append(
            (
                s.name,
                s.kind,
                None if parent is None else index.get(parent.span_id, parent.span_id),
                None if parent is None else parent.is_remote,
                dict(s.attributes or {}),
                s.dropped_attributes,
                [(e.name, without_stack(e.attributes), e.dropped_attributes) for e in s.events],
                s.dropped_events,
                [(k.context.span_id, dict(k.attributes or {})) for k in s.links],
                s.status.status_code,
                s.status.description,
                int(s.context.trace_flags),
                s.context.trace_state.to_header(),
                (s.instrumentation_scope.name, s.instrumentation_scope.version)
                if s.instrumentation_scope
                else None,
            )
        )
    return out


BOOM = ValueError("bad value")
REMOTE = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C,
    0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "v1")]),
)


def calls(tracer: trace.Tracer) -> None:
    """Every span call thinktank's hooks make, and those other code may make on them."""
    parent = trace.set_span_in_context(NonRecordingSpan(REMOTE))
    root = tracer.start_span("chat bo8", parent, SpanKind.SERVER, {"a": 1, "b": ["x", "y"]})
    ctx = trace.set_span_in_context(root)
    leaf = tracer.start_span(
        "chat sim", ctx, SpanKind.CLIENT, {"n": 2.5}, links=[Link(REMOTE, {"why": "retry"})]
    )
    leaf.set_attributes(
        {"flag": True, "enum": Color.RED, "opaque": Opaque(), "tuple": (1, 2), "none": None}
    )
    leaf.set_attribute("gen_ai.usage.cost", 0.25)
    leaf.add_event("gen_ai.client.inference.operation.details", {"gen_ai.input.messages": "[]"})
    leaf.record_exception(BOOM)
    leaf.set_status(trace.Status(StatusCode.ERROR, "ValueError: bad value"))
    leaf.set_status(StatusCode.UNSET)  # ignored
    leaf.update_name("chat sim-2")
    leaf.end()
    leaf.set_attribute("late", 1)  # ignored: ended
    ok = tracer.start_span("ok", ctx)
    ok.set_status(StatusCode.OK)
    ok.set_status(StatusCode.ERROR, "too late")  # an OK status is final
    ok.end()
    with pytest.raises(KeyError):
        with tracer.start_as_current_span("failing", ctx):
            raise KeyError("k")
    root.end()


def test_spans_reach_the_exporter_as_the_sdks_do() -> None:
    sdk, pipe = both(calls)
    assert shape(pipe) == shape(sdk)
    assert [s.name for s in pipe] == ["chat sim-2", "ok", "failing", "chat bo8"]
    assert pipe[0].events[1].attributes is not None
    assert pipe[0].events[1].attributes["exception.type"] == "ValueError"


def test_values_of_subclasses_of_built_in_types_cross_as_those_types() -> None:
    """A span's name, status and event given as enum members: the pipe's tuples hold the
    built-in types only (a class of the application's ``__main__`` would not unpickle in
    the exporting process, and its whole batch would be lost), equal to what the SDK
    keeps."""

    def run(tracer: trace.Tracer) -> None:
        span = tracer.start_span(Name.SOLVE, attributes={"n": Color.RED})
        span.add_event(Name.SOLVE, {"k": Name.SOLVE})
        span.set_status(StatusCode.ERROR, Name.SOLVE)
        span.end()
        other = tracer.start_span("x")
        other.update_name(Name.SOLVE)
        other.set_status(trace.Status(StatusCode.ERROR, Name.SOLVE))
        other.end()

    sdk, pipe = both(run)
    assert shape(pipe) == shape(sdk)
    for s in pipe:
        assert type(s.name) is str and s.name == "solve"
        assert type(s.status.description) is str
    assert type(pipe[0].events[0].name) is str
    assert type(dict(pipe[0].events[0].attributes or {})["k"]) is str
    assert type(dict(pipe[0].attributes or {})["n"]) is int


def test_span_limits_apply_as_the_sdks_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")

    def many(tracer: trace.Tracer) -> None:
        span = tracer.start_span("s", attributes={"a": "long value", "b": 2})
        span.set_attributes({"c": 3, "d": "another long one"})
        span.add_event("e1")
        span.add_event("e2", {"k": "v"})
        span.end()

    sdk, pipe = both(many)
    assert shape(pipe) == shape(sdk)
    assert pipe[0].dropped_attributes == 1 and pipe[0].dropped_events == 1
    assert dict(pipe[0].attributes or {})["d"] == "anot"


@pytest.mark.parametrize(
    ("env", "parent", "exported"),
    [
        ({}, None, True),
        ({}, REMOTE, True),
        ({}, SpanContext(1, 2, True, TraceFlags(0)), False),  # the client did not sample
        ({"OTEL_TRACES_SAMPLER": "always_off"}, None, False),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, SpanContext(1, 2, True, TraceFlags(0)), True),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, None, False),
    ],
)
def test_the_sampler_the_variables_name_decides(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    parent: SpanContext | None,
    exported: bool,
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    def two(tracer: trace.Tracer) -> None:
        ctx = None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))
        outer = tracer.start_span("outer", ctx)
        inner = tracer.start_span("inner", trace.set_span_in_context(outer))
        assert inner.get_span_context().trace_id == outer.get_span_context().trace_id
        assert inner.is_recording() is exported
        inner.end()
        outer.end()

    sdk, pipe = both(two)
    assert shape(pipe) == shape(sdk)
    assert len(pipe) == (2 if exported else 0)


@pytest.mark.parametrize("flags", [TraceFlags.SAMPLED, TraceFlags.DEFAULT])
@pytest.mark.parametrize("sampler", [None, "always_on"])
def test_the_hooks_fast_path_starts_spans_as_start_span_does(
    monkeypatch: pytest.MonkeyPatch, flags: int, sampler: str | None
) -> None:
    if sampler:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    client = SpanContext(
        REMOTE.trace_id, REMOTE.span_id, True, TraceFlags(flags), REMOTE.trace_state
    )

    def hooks(tracer: trace.Tracer) -> None:
        start = getattr(tracer, "start_plain", None)  # what thinktank's hooks call, if any

        def begin(name: str, ctx: Any, kind: SpanKind, attrs: dict[str, Any]) -> trace.Span:
            if start is not None:
                return start(name, ctx, kind, attrs)
            return tracer.start_span(name, ctx, kind, attrs)

        served = begin(
            "chat bo8", trace.set_span_in_context(NonRecordingSpan(client)), SpanKind.SERVER, {}
        )

        def leaf(name: str, attrs: dict[str, Any]) -> None:  # a finished model call
            if hasattr(tracer, "leaf_plain"):
                tracer.leaf_plain(name, SpanKind.CLIENT, attrs, 1_000, 2_000)
            else:
                tracer.start_span(name, None, SpanKind.CLIENT, attrs, start_time=1_000).end(2_000)

        for parent in (served, None):  # under the served span, and a root of its own
            ctx = None if parent is None else trace.set_span_in_context(parent)
            run = begin("invoke_workflow g", ctx, SpanKind.INTERNAL, {"a": 1})
            leaf2 = begin("chat m", trace.set_span_in_context(run), SpanKind.CLIENT, {"b": "x"})
            with trace.use_span(leaf2):
                leaf("chat n", {"c": 2.5})
            leaf2.end()
            run.end()
        leaf("chat root", {})  # no current span: a trace of its own
        served.end()

    sdk, pipe = both(hooks)
    assert shape(pipe) == shape(sdk)
    sampled = flags == TraceFlags.SAMPLED or sampler == "always_on"
    assert len(pipe) == (8 if sampled else 4)


@pytest.mark.parametrize("flags", [TraceFlags.SAMPLED, TraceFlags.DEFAULT])
def test_spans_with_children_open_and_close_as_through_the_api(flags: int) -> None:
    # what a run's, a sample's and a request's span do: made current, then undone and ended
    client = SpanContext(
        REMOTE.trace_id, REMOTE.span_id, True, TraceFlags(flags), REMOTE.trace_state
    )
    current: list[Any] = []

    def hooks(tracer: trace.Tracer) -> None:
        enter, leave = getattr(tracer, "enter", None), getattr(tracer, "exit", None)

        def opened(name: str, ctx: Any, attrs: dict[str, Any]) -> tuple[trace.Span, Any]:
            if enter is not None:
                return enter(name, ctx, SpanKind.INTERNAL, attrs)
            span = tracer.start_span(name, ctx, SpanKind.INTERNAL, attrs)
            return span, attach(trace.set_span_in_context(span))

        def closed(span: trace.Span, token: Any) -> None:
            if leave is not None:
                leave(span, token)
            else:
                detach(token)
                span.end()

        served, t1 = opened("chat bo8", trace.set_span_in_context(NonRecordingSpan(client)), {})
        run, t2 = opened("invoke_workflow g", None, {"a": 1})  # under the current span
        sample, t3 = opened("invoke_agent s", None, {"b": "x"})
        current.append(trace.get_current_span() is sample)
        sample.end()  # ended by other code first: ends once
        closed(sample, t3)
        current.append(trace.get_current_span() is run)
        closed(run, t2)
        closed(served, t1)
        current.append(trace.get_current_span() is trace.INVALID_SPAN)
        root, t4 = opened("invoke_workflow h", None, {})  # no current span: a new trace
        closed(root, t4)

    sdk, pipe = both(hooks)
    assert shape(pipe) == shape(sdk)
    assert len(pipe) == (4 if flags == TraceFlags.SAMPLED else 1)
    assert current == [True, True, True] * 2  # as current in both, and undone


def recording() -> tuple[PipeProvider, Any, list[bytes]]:
    """The OTLP export's provider, its tracer, and the frames it sends (kept)."""
    sent: list[bytes] = []
    provider = PipeProvider(
        Resource({"service.name": "t"}),
        TracerProvider().sampler,
        send=lambda res, url, chunks: sent.append(frame(res, url, chunks)),
    )
    return provider, provider.get_tracer("thinktank", "1.0"), sent


def test_attributes_spans_share_cross_once_and_are_merged_by_the_exporting_process() -> None:
    provider, tracer, sent = recording()
    shared = {"gen_ai.request.model": "m", "gen_ai.operation.name": "chat"}
    agent, token = tracer.enter("invoke_agent a", None, SpanKind.INTERNAL, {"s": 0}, shared)
    agent.set_attribute("gen_ai.request.model", "other")  # its own value wins over the shared
    for i in range(3):
        tracer.leaf_plain("chat m", SpanKind.CLIENT, {"n": i}, 1_000, 2_000, shared)
    tracer.exit(agent, token)
    provider.shutdown()
    [data] = sent
    [chunk] = pickle.loads(data)[2]
    assert chunk[:1] == b"M"  # plain values: marshal's format
    assert len({id(s[15]) for s in unpack(chunk)}) == 1  # one dict, written once
    spans = _spans(data)
    assert [list((s.attributes or {}).items()) for s in spans] == [
        [("gen_ai.request.model", "m"), ("gen_ai.operation.name", "chat"), ("n", i)]
        for i in range(3)
    ] + [[("gen_ai.request.model", "other"), ("gen_ai.operation.name", "chat"), ("s", 0)]]
    assert {s.parent.span_id for s in spans[:3] if s.parent} == {agent.get_span_context().span_id}


def test_chunks_of_plain_values_cross_as_marshal_others_as_pickle() -> None:
    plain = [("chat m", 1 << 100, None, {"a": 2.5, "b": (1, "x")}, [], True)]
    assert pack(plain)[:1] == b"M" and unpack(pack(plain)) == plain
    odd = [("invoke_agent a", Name.SOLVE, Color.RED)]  # marshal writes built-in types only
    assert pack(odd)[:1] == b"P" and unpack(pack(odd)) == odd
    # a hook's deferred figures of such types: built into attributes of built-in types
    provider, tracer, sent = recording()
    extra = (_deferred.AGENT, Name.SOLVE, 0, Color.RED)
    tracer.leaf_plain("invoke_agent a", SpanKind.INTERNAL, {"own": 1}, 1_000, 2_000, None, extra)
    provider.shutdown()
    [span] = _spans(sent[0])
    attrs = dict(span.attributes or {})
    assert attrs == {
        "gen_ai.agent.id": "solve",
        "thinktank.round": 0,
        "thinktank.sample": 1,
        "own": 1,
    }
    assert [type(v) for v in attrs.values()] == [str, int, int, int]


def test_other_instrumentation_nests_under_thinktanks_spans(spans: Spans) -> None:
    # a library instrumented on its own (its own SDK provider) runs inside a model call
    theirs = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    tracer = provider.get_tracer("some.http.client")

    def model(req: ChatRequest) -> str:
        with tracer.start_as_current_span("POST /v1/chat"):
            return "Answer: 4"

    graph = compile(topology("single"), models=FunctionModel(model))
    assert graph.run_sync("What is 2+2?").answer == "4"
    [agent] = spans.named("invoke_agent")
    [inner] = theirs.get_finished_spans()
    assert inner.parent is not None and inner.parent.span_id == agent.context.span_id
    assert inner.context.trace_id == agent.context.trace_id


def test_batches_follow_the_variables_and_a_full_queue_drops_spans_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entered, release = threading.Event(), threading.Event()
    sizes: list[int] = []

    def send(batch: list[bytes]) -> None:
        sizes.append(sum(len(unpack(chunk)) for chunk in batch))
        entered.set()
        release.wait(timeout=30)

    batches = Batches(send, schedule_delay_s=60.0, max_queue=4, max_batch=2)
    try:
        batches.put(b"1")
        batches.put(b"2")  # a batch's worth: the thread sends it (and waits in send)
        assert entered.wait(timeout=30)
        for i in range(3, 9):
            batches.put(str(i).encode())  # four fit; two are dropped
        release.set()
        batches.flush()
    finally:
        release.set()
        batches.close()
    assert max(sizes) == 2 and sum(sizes) == 6
    dropped = [r for r in caplog.records if "span queue is full" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.WARNING


def test_waiting_spans_are_packed_every_chunk_and_sent_a_batch_at_a_time() -> None:
    """Spans wait for their batch as packed bytes (nothing the garbage collector counts):
    the thread packs each chunk's worth at once, and sends when a batch is full."""
    sent: list[list[Any]] = []
    batches = Batches(
        lambda batch: sent.append([s for c in batch for s in unpack(c)]),
        schedule_delay_s=60.0, max_queue=10_000, max_batch=4 * CHUNK,
    )  # fmt: skip
    try:
        for i in range(CHUNK):
            batches.put(("span", i))
        deadline = time.monotonic() + 30
        while batches._queue and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not batches._queue and sent == []  # packed, not sent: no batch yet
        assert [type(c) for c, _ in batches._packed] == [bytes]
        for i in range(CHUNK, 4 * CHUNK + 3):
            batches.put(("span", i))
        deadline = time.monotonic() + 30
        while not sent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [len(b) for b in sent] == [4 * CHUNK]
    finally:
        batches.close()
    assert [len(b) for b in sent] == [4 * CHUNK, 3]  # the rest when it closes
    assert [s[1] for b in sent for s in b] == list(range(4 * CHUNK + 3))


def test_spans_are_made_current_through_the_api_when_its_context_is_kept_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from thinktank.telemetry import _pipe

    # the default runtime context: the fast path is in use
    assert _pipe._context_variable() is not None
    monkeypatch.setattr(_pipe, "_context_variable", lambda: None)
    with traced("pipe", capture=False) as spans:
        res = compile(topology("best_of_n", n=2), models=FunctionModel(lambda r: "Answer: 3"))
        assert res.run_sync("q?").answer == "3"
        tree = spans.tree()
    sample = ("invoke_agent solver", [("chat function", [])])
    assert tree == ("invoke_workflow best_of_2_vote", [sample, sample])
    assert trace.get_current_span() is trace.INVALID_SPAN  # every span made current was undone
