"""thinktank's own spans on the way to the exporting process: the tracer of the OTLP
export that the ``OTEL_*`` variables configure.

An SDK span costs tens of µs to make and end on the traced process's event loop (locks,
attribute validation, span processors, the metrics hooks), then its exporter turns it
into plain data for the pipe to :mod:`thinktank.telemetry._sidecar`. A
:class:`PipeSpan` is that plain data from the start — name, ids, times, attributes,
events, status — and when it ends one tuple joins a queue, packed every 64 spans and
written to the child in batches, as the SDK's batch span processor would hand them to an
exporter (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``,
``OTEL_BSP_MAX_QUEUE_SIZE``). The child rebuilds SDK spans, applies the span limits
and exports them with the official exporter: a collector receives what the SDK sends.

What stays as with the SDK: spans are OpenTelemetry ``Span`` s made current in its
context (other instrumentation nests under them, a ``traceparent`` propagates), with
the SDK's ids, flags, trace state, sampler and attribute cleaning; what differs: no SDK
span objects and no span processors, and span limits apply in the child.
"""

from __future__ import annotations

import atexit
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    get_current_span,
    set_span_in_context,
    use_span,
)
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from thinktank.telemetry._batches import Batches, env_int
from thinktank.telemetry._deferred import finished, settled
from thinktank.telemetry._deferred import merged as _merged
from thinktank.telemetry._record import PipeSpan, _exact, clean
from thinktank.telemetry._record import context_variable as _context_variable
from thinktank.telemetry._sidecar import Flat, Sidecar

log = logging.getLogger("thinktank.telemetry")

_SAMPLED = TraceFlags.SAMPLED
_RANDOM = TraceFlags.RANDOM_TRACE_ID
_FLAGS = {f: TraceFlags(f) for f in range(4)}
_ID_BITS = random.getrandbits


def _new_id(bits: int) -> int:
    while not (i := _ID_BITS(bits)):
        pass
    return i


class PipeTracer(trace_api.Tracer):
    """Makes :class:`PipeSpan` s (spans dropped by the sampler are non-recording ones
    that still carry the context, as the SDK's are)."""

    def __init__(
        self,
        put: Callable[[Flat], None],
        scope: tuple[str, str | None],
        sampler: sampling.Sampler | None = None,
    ) -> None:
        self._put = put
        self._scope = scope
        self._context = _context_variable()
        # None: the default sampler (parent-based, always on at the root) decided inline
        self._sampler = None if sampler is sampling.DEFAULT_ON else sampler

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        if type(name) is not str:  # a subclass (an enum member) would not unpickle
            name = _exact(name)
        parent: SpanContext = get_current_span(context).get_span_context()
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            flags = parent.trace_flags & _RANDOM
            state = parent.trace_state
            up: tuple[int, bool] | None = (parent.span_id, parent.is_remote)
            sampled = bool(parent.trace_flags & _SAMPLED)
        else:
            trace_id = _new_id(128)
            flags = _RANDOM
            state = DEFAULT_TRACE_STATE
            up = None
            sampled = True
        recording = sampled
        sampler = self._sampler
        if sampler is None:  # parent-based, always on: the parent's decision, or yes
            attrs = clean(attributes)
        else:
            result = sampler.should_sample(context, trace_id, name, kind, attributes, links)
            sampled = result.decision.is_sampled()
            recording = result.decision.is_recording()
            attrs = clean(result.attributes)
            state = result.trace_state if result.trace_state is not None else DEFAULT_TRACE_STATE
        if sampled:
            flags |= _SAMPLED
        span_id = _new_id(64)
        ctx = tuple.__new__(SpanContext, (trace_id, span_id, False, _FLAGS[flags], state, True))
        if not recording:
            return NonRecordingSpan(ctx)
        span = PipeSpan(
            ctx,
            [
                name, trace_id, span_id, flags, up, kind._value_,
                time.time_ns() if start_time is None else start_time, None, attrs, (), 0, None,
                self._scope, None if state is DEFAULT_TRACE_STATE else (state.to_header() or None), (),
                None, None,
            ],
            self._put if sampled else None,
        )  # fmt: skip
        for link in links or ():
            span.add_link(link.context, link.attributes)
        return span

    def _parent(self, context: Context | None) -> SpanContext:
        """The span context of the current span (of ``context``'s, when given)."""
        fast = self._context
        if fast is None:
            return get_current_span(context).get_span_context()
        span = (fast[0].get() if context is None else context).get(fast[1])
        if type(span) is PipeSpan:  # the common case: under one of thinktank's spans
            return span._ctx
        if span is None or not isinstance(span, trace_api.Span):
            return INVALID_SPAN_CONTEXT
        return span.get_span_context()

    def enter(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attrs: dict[str, Any],
        shared: dict[str, Any] | None = None,
        extra: tuple[Any, ...] | None = None,
    ) -> tuple[trace_api.Span, Any]:
        """:meth:`start_plain`, the span made current: ``(span, token)`` for :meth:`exit`
        (``shared`` and ``extra`` as for :meth:`leaf_plain`)."""
        span = self.start_plain(name, context, kind, attrs, None, shared, extra)
        fast = self._context
        if fast is None:
            return span, attach(set_span_in_context(span))
        var, key = fast
        values = var.get().copy()
        values[key] = span
        return span, var.set(Context(values))

    async def traced(
        self,
        run: Coroutine[Any, Any, Any],
        name: str,
        context: Context | None,
        kind: SpanKind,
        attrs: dict[str, Any],
        shared: dict[str, Any] | None,
        extra: tuple[Any, ...] | None,
        finish: Callable[[trace_api.Span, Any], tuple[Any, ...] | None],
        settle: Callable[[trace_api.Span], None] | None,
        ended_by: Callable[[trace_api.Span, BaseException], None],
    ) -> Any:
        """``run`` in a span made current, finished, settled and closed in one frame."""
        fast = self._context
        if fast is None or self._sampler is not None:
            span, token = self.enter(name, context, kind, attrs, shared, extra)
        else:  # enter's work, inline
            span = self.start_plain(name, context, kind, attrs, None, shared, extra)
            var = fast[0]
            values = var.get().copy()
            values[fast[1]] = span
            token = var.set(Context(values))
        try:
            result = await run
        except BaseException as exc:
            ended_by(span, exc)
            raise
        else:
            finished(span, finish, result, name, self.defer)
            return result
        finally:
            settled(span, settle, name)
            self.exit(span, token)

    def exit(self, span: trace_api.Span, token: Any) -> None:
        """The context as it was before :meth:`enter` gave ``token``, and ``span`` ended
        now (a :class:`PipeSpan` without a call of its own)."""
        fast = self._context
        if fast is None:
            detach(token)
        else:
            try:
                fast[0].reset(token)
            except Exception:  # as the API's detach
                log.exception("Failed to detach context")
        if type(span) is PipeSpan:
            rec = span._rec
            if rec[7] is None:
                rec[7] = time.time_ns()
                if span._put is not None:
                    span._put(tuple(rec))
                return
        span.end()

    def start_plain(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attrs: dict[str, Any],
        start_time: int | None = None,
        shared: dict[str, Any] | None = None,
        extra: tuple[Any, ...] | None = None,
    ) -> trace_api.Span:
        """:meth:`start_span` for thinktank's own hooks, the hot path: ``attrs`` is theirs
        to keep and holds plain values only (no cleaning, no copy)."""
        if self._sampler is not None:
            merged = _merged(shared, extra, attrs)
            return self.start_span(name, context, kind, merged, start_time=start_time)
        fast = self._context  # the parent, as _parent finds it (inline: the common case)
        parent = (
            None if fast is None else (fast[0].get() if context is None else context).get(fast[1])
        )
        trace_id, parent_id, remote, parent_flags, state, valid = (
            parent._ctx if type(parent) is PipeSpan else self._parent(context)
        )
        if valid:
            flags = parent_flags & (_SAMPLED | _RANDOM)  # parent-based: as the parent was
            up: tuple[int, bool] | None = (parent_id, remote)
        else:
            trace_id = _ID_BITS(128) or _new_id(128)
            flags, state, up = _SAMPLED | _RANDOM, DEFAULT_TRACE_STATE, None
        span_id = _ID_BITS(64) or _new_id(64)
        ctx = tuple.__new__(SpanContext, (trace_id, span_id, False, _FLAGS[flags], state, True))
        if not flags & _SAMPLED:
            return NonRecordingSpan(ctx)
        return PipeSpan(
            ctx,
            [
                name, trace_id, span_id, flags, up, kind._value_,
                time.time_ns() if start_time is None else start_time, None, attrs, (), 0, None,
                self._scope, None if state is DEFAULT_TRACE_STATE else (state.to_header() or None), (),
                shared, extra,
            ],
            self._put,
        )  # fmt: skip

    @staticmethod
    def defer(span: trace_api.Span, extra: tuple[Any, ...]) -> bool:
        """Give a recording :class:`PipeSpan` deferred figures (False: another span)."""
        if type(span) is PipeSpan:
            rec = span._rec
            if rec[7] is None:
                rec[16] = extra
                return True
        return False

    def leaf_plain(
        self,
        name: str,
        kind: SpanKind,
        attrs: dict[str, Any],
        start: int,
        end: int,
        shared: dict[str, Any] | None = None,
        extra: tuple[Any, ...] | None = None,
    ) -> None:
        """A span that has ended already and has no children, under the current span
        (a model call, recorded once it returned): straight onto the queue, no span
        object. ``attrs`` as for :meth:`start_plain`; ``shared``, attributes that come
        before them and that many spans share (a model's), sent as they are: the
        exporting process merges them (:func:`~thinktank.telemetry._sidecar.merged`);
        ``extra``, the span's figures as :mod:`~thinktank.telemetry._deferred` records
        them, which the exporting process makes attributes (between the two)."""
        if self._sampler is not None:
            merged = _merged(shared, extra, attrs)
            self.start_span(name, None, kind, merged, start_time=start).end(end)
            return
        fast = self._context  # the parent, as _parent finds it (inline: the common case)
        parent = None if fast is None else fast[0].get().get(fast[1])
        trace_id, parent_id, remote, parent_flags, state, valid = (
            parent._ctx if type(parent) is PipeSpan else self._parent(None)
        )
        if valid:
            if not parent_flags & _SAMPLED:
                return
            flags = parent_flags & (_SAMPLED | _RANDOM)
            up: tuple[int, bool] | None = (parent_id, remote)
        else:
            trace_id = _ID_BITS(128) or _new_id(128)
            flags, state, up = _SAMPLED | _RANDOM, DEFAULT_TRACE_STATE, None
        self._put(
            (
                name, trace_id, _ID_BITS(64) or _new_id(64), flags, up, kind._value_, start,
                end, attrs, (), 0, None, self._scope, None if state is DEFAULT_TRACE_STATE else (state.to_header() or None),
                (), shared, extra,
            )
        )  # fmt: skip

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the API's is a context manager too
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )  # fmt: skip
        with use_span(span, end_on_exit, record_exception, set_status_on_exception) as s:
            yield s


class PipeProvider:
    """What :class:`~thinktank.telemetry._spans.Tracing` keeps of a provider: tracers
    whose spans go to the exporting process, and :meth:`shutdown` (flush, then close)."""

    def __init__(
        self,
        resource: Any,
        sampler: sampling.Sampler,
        send: Callable[[Mapping[str, Any], str, list[bytes]], Any] | None = None,
    ) -> None:
        self.resource = resource
        self.sampler = sampler
        self._sidecar: Sidecar | None = None
        if send is None:
            self._sidecar = Sidecar()
            send = self._sidecar.send
        attrs, schema = dict(resource.attributes), resource.schema_url
        max_batch = env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        max_queue = env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        if max_batch > max_queue:
            log.warning(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE (%d) is above OTEL_BSP_MAX_QUEUE_SIZE (%d): "
                "batches of %d",
                max_batch, max_queue, max_queue,
            )  # fmt: skip
            max_batch = max_queue
        self.batches = Batches(
            lambda chunks: send(attrs, schema, chunks),
            schedule_delay_s=env_int("OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000,
            max_queue=max_queue,
            max_batch=max_batch,
        )
        self._closed = False
        atexit.register(self.shutdown)  # as the SDK's provider: what is queued is sent

    def get_tracer(self, name: str, version: str | None = None, *args: Any, **kw: Any) -> Any:
        return PipeTracer(self.batches.put, (name, version), self.sampler)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.batches.flush()  # what is queued, to the exporting process now
        return True

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.shutdown)
        self.batches.close()
        if self._sidecar is not None:
            self._sidecar.close()
