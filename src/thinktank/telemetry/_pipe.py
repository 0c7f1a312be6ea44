"""thinktank's own spans on the way to the exporting process: the tracer of the OTLP
export that the ``OTEL_*`` variables configure.

An SDK span costs tens of µs to make and end on the traced process's event loop (locks,
attribute validation, span processors, the metrics hooks), then its exporter turns it
into plain data for the pipe to :mod:`thinktank.telemetry._sidecar`. A
:class:`PipeSpan` is that plain data from the start — name, ids, times, attributes,
events, status — and when it ends one tuple joins a queue that a thread pickles and
writes to the child in batches, as the SDK's batch span processor would hand them to an
exporter (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``,
``OTEL_BSP_MAX_QUEUE_SIZE``). The child rebuilds SDK spans, applies the span limits
and exports them with the official exporter: a collector receives what the SDK sends.

What stays as with the SDK: a :class:`PipeSpan` is an OpenTelemetry ``Span`` made
current in the OpenTelemetry context, so the spans of other instrumentation nest under
thinktank's and a ``traceparent`` propagates; ids, trace flags and trace state are set
as the SDK sets them; the sampler is the one ``OTEL_TRACES_SAMPLER`` names (the default,
parent-based always-on, decided inline); attribute values are cleaned as the SDK cleans
them. What differs: the spans are not SDK span objects and no span processor sees them
(none can be added: the provider is thinktank's own); the span limits apply when the
child rebuilds the spans, not when an attribute is set.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    get_current_span,
    use_span,
)
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from thinktank.telemetry._sidecar import Flat

log = logging.getLogger("thinktank.telemetry")

_PLAIN = frozenset({str, int, float, bool})
_SEQ = frozenset({list, tuple})
_UNSET = StatusCode.UNSET
_OK = StatusCode.OK
_SAMPLED = TraceFlags.SAMPLED
_RANDOM = TraceFlags.RANDOM_TRACE_ID
_FLAGS = {f: TraceFlags(f) for f in range(4)}
_ID_BITS = random.getrandbits


def _new_id(bits: int) -> int:
    while True:
        i = _ID_BITS(bits)
        if i:
            return i


def _exact(value: Any) -> Any:
    """A cleaned value in the built-in types only (a str or int subclass, an enum member,
    would need its class to unpickle in the exporting process)."""
    t = type(value)
    if t in _PLAIN or value is None:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, tuple):
        return tuple(_exact(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _exact(v) for k, v in value.items()}
    return str(value)


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes as the SDK keeps them: plain values as they are (thinktank's own),
    anything else cleaned by the OpenTelemetry API's rules (sequences to tuples, unknown
    types to strings, invalid keys and values dropped with a warning)."""
    if not attributes:
        return {}
    out = dict(attributes)
    for k, v in out.items():
        if type(v) not in _PLAIN or type(k) is not str or not k:
            if type(v) in _SEQ and type(k) is str and k and all(type(x) in _PLAIN for x in v):
                out[k] = tuple(v)  # a list of plain values (finish reasons, stop sequences)
                continue
            break
    else:
        return out
    bounded = BoundedAttributes(None, attributes, immutable=False)
    return {str(k): _exact(v) for k, v in bounded.items()}


class PipeSpan(trace_api.Span):
    """A recording span whose end puts it on the queue, one :data:`~thinktank.telemetry.
    _sidecar.Flat` tuple (sampled spans only, as the SDK's batch processor exports only
    those)."""

    __slots__ = (
        "_attrs", "_ctx", "_end", "_events", "_head", "_kind", "_links", "_name", "_put",
        "_start", "_status", "_tail",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        ctx: SpanContext,
        head: tuple[Any, ...],
        kind: SpanKind,
        attrs: dict[str, Any],
        start: int,
        tail: tuple[Any, ...],
        put: Callable[[Flat], None] | None,
    ) -> None:
        self._name = name
        self._ctx = ctx
        self._head = head  # (trace_id, span_id, flags, parent), as the tuple begins
        self._kind = kind
        self._attrs = attrs
        self._start = start
        self._end: int | None = None
        # lists only once something is added (most spans have neither)
        self._events: Sequence[tuple[str, dict[str, Any], int]] = ()
        self._links: Sequence[tuple[int, int, int, bool, dict[str, Any]]] = ()
        self._status: Status | None = None
        self._tail = tail  # (scope, trace_state)
        self._put = put

    def get_span_context(self) -> SpanContext:
        return self._ctx

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: Any) -> None:
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end is not None:
            log.warning("Setting attribute on ended span.")
            return
        for k, v in attributes.items():
            if type(v) not in _PLAIN or type(k) is not str or not k:
                self._attrs.update(_clean(attributes))
                return
        self._attrs.update(attributes)

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
    ) -> None:
        if self._end is None:
            when = time.time_ns() if timestamp is None else timestamp
            self._events = [*self._events, (str(name), _clean(attributes), when)]

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        if self._end is None and context is not None and context.is_valid:
            link = (
                context.trace_id, context.span_id, int(context.trace_flags),
                context.is_remote, _clean(attributes),
            )  # fmt: skip
            self._links = [*self._links, link]

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end is not None:
            return
        if self._status is not None and self._status.status_code is _OK:
            return  # as the SDK: an OK status is final, UNSET is never set
        if isinstance(status, Status):
            if status.status_code is not _UNSET:
                self._status = status
        elif status is not _UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        attrs: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            attrs.update(attributes)
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is not None:
            log.warning("Calling end() on an ended span.")
            return
        self._end = end = time.time_ns() if end_time is None else end_time
        if self._put is None:  # recorded, not sampled
            return
        status = self._status
        code, description = (
            (0, None) if status is None else (status.status_code._value_, status.description)
        )
        self._put(
            (
                self._name, *self._head, self._kind._value_, self._start, end,
                self._attrs, self._events, code, description, *self._tail, self._links,
            )
        )  # fmt: skip


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
        self._tail = (scope, None)
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
            attrs = _clean(attributes)
        else:
            result = sampler.should_sample(context, trace_id, name, kind, attributes, links)
            sampled = result.decision.is_sampled()
            recording = result.decision.is_recording()
            attrs = _clean(result.attributes)
            state = result.trace_state if result.trace_state is not None else DEFAULT_TRACE_STATE
        if sampled:
            flags |= _SAMPLED
        span_id = _new_id(64)
        # SpanContext(trace_id, span_id, False, flags, state), its ids valid by construction
        ctx = tuple.__new__(SpanContext, (trace_id, span_id, False, _FLAGS[flags], state, True))
        if not recording:
            return NonRecordingSpan(ctx)
        span = PipeSpan(
            name,
            ctx,
            (trace_id, span_id, flags, up),
            kind,
            attrs,
            time.time_ns() if start_time is None else start_time,
            self._tail
            if state is DEFAULT_TRACE_STATE or not state
            else (self._tail[0], state.to_header()),
            self._put if sampled else None,
        )
        for link in links or ():
            span.add_link(link.context, link.attributes)
        return span

    def start_plain(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attrs: dict[str, Any],
        start_time: int | None = None,
    ) -> trace_api.Span:
        """:meth:`start_span` for thinktank's own hooks, the hot path: ``attrs`` is theirs
        to keep and holds plain values only (no cleaning, no copy)."""
        if self._sampler is not None:
            return self.start_span(name, context, kind, attrs, start_time=start_time)
        # a SpanContext is the tuple (trace_id, span_id, is_remote, flags, state, valid)
        trace_id, parent_id, remote, parent_flags, state, valid = get_current_span(
            context
        ).get_span_context()
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
            name,
            ctx,
            (trace_id, span_id, flags, up),
            kind,
            attrs,
            time.time_ns() if start_time is None else start_time,
            self._tail if not state else (self._tail[0], state.to_header()),
            self._put,
        )

    def leaf_plain(
        self, name: str, kind: SpanKind, attrs: dict[str, Any], start: int, end: int
    ) -> None:
        """A span that has ended already and has no children, under the current span
        (a model call, recorded once it returned): straight onto the queue, no span
        object. ``attrs`` as for :meth:`start_plain`."""
        if self._sampler is not None:
            self.start_span(name, None, kind, attrs, start_time=start).end(end)
            return
        trace_id, parent_id, remote, parent_flags, state, valid = (
            get_current_span().get_span_context()
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
                end, attrs, (), 0, None, self._tail[0], state.to_header() if state else None,
                (),
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
