"""A span of thinktank's OTLP export as what it records: :class:`PipeSpan`, an
OpenTelemetry ``Span`` whose state is the :data:`~thinktank.telemetry._sidecar.Flat`
list it becomes when it ends; attribute values cleaned as the SDK cleans them."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    SpanContext,
    Status,
    StatusCode,
    get_current_span,
)

from thinktank.telemetry._sidecar import Flat

log = logging.getLogger("thinktank.telemetry")

_PLAIN = frozenset({str, int, float, bool})
_STR = frozenset({str})
_SEQ = frozenset({list, tuple})
_UNSET = StatusCode.UNSET
_OK = StatusCode.OK


def _exact(value: Any) -> Any:
    """A value in the built-in types only: a str or int subclass, an enum member, would
    need its class to unpickle in the exporting process (a class of the application's
    ``__main__`` is not there: the whole batch would be lost)."""
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


def _plain(attributes: Mapping[str, Any]) -> bool:
    """Names that are non-empty strings, values str, int, float or bool (checked in C)."""
    return (
        _PLAIN.issuperset(map(type, attributes.values()))
        and _STR.issuperset(map(type, attributes))
        and "" not in attributes
    )


def clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes as the SDK keeps them: plain values as they are (thinktank's own),
    anything else cleaned by the OpenTelemetry API's rules (sequences to tuples, unknown
    types to strings, invalid keys and values dropped with a warning)."""
    if not attributes:
        return {}
    out = dict(attributes)
    if _plain(out):
        return out
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
    """A recording span; what it records is the :data:`~thinktank.telemetry._sidecar.
    Flat` list it will be, which its end puts on the queue as a tuple (sampled spans
    only, as the SDK's batch processor exports only those)."""

    __slots__ = ("_ctx", "_put", "_rec")

    # _rec: [name, trace_id, span_id, flags, parent, kind, start, end, attributes,
    #        events, status_code, status_description, scope, trace_state, links, shared,
    #        deferred]
    def __init__(
        self, ctx: SpanContext, rec: list[Any], put: Callable[[Flat], None] | None
    ) -> None:
        self._ctx = ctx
        self._rec = rec
        self._put = put

    def get_span_context(self) -> SpanContext:
        return self._ctx

    def is_recording(self) -> bool:
        return self._rec[7] is None

    def set_attribute(self, key: str, value: Any) -> None:
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        rec = self._rec
        if rec[7] is not None:
            log.warning("Setting attribute on ended span.")
        elif _plain(attributes):
            rec[8].update(attributes)
        else:
            rec[8].update(clean(attributes))

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
    ) -> None:
        rec = self._rec
        if rec[7] is None:
            when = time.time_ns() if timestamp is None else timestamp
            rec[9] = [*rec[9], (str(name), clean(attributes), when)]

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        rec = self._rec
        if rec[7] is None and context is not None and context.is_valid:
            link = (
                context.trace_id, context.span_id, int(context.trace_flags),
                context.is_remote, clean(attributes),
            )  # fmt: skip
            rec[14] = [*rec[14], link]

    def update_name(self, name: str) -> None:
        if self._rec[7] is None:
            self._rec[0] = _exact(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        rec = self._rec
        if rec[7] is not None or rec[10] == _OK.value:
            return  # as the SDK: an OK status is final, UNSET is never set
        if isinstance(status, Status):
            if status.status_code is not _UNSET:
                rec[10], rec[11] = status.status_code.value, _exact(status.description)
        elif status is not _UNSET:
            rec[10], rec[11] = status.value, _exact(description)

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
        rec = self._rec
        if rec[7] is not None:
            log.warning("Calling end() on an ended span.")
            return
        rec[7] = time.time_ns() if end_time is None else end_time
        if self._put is not None:  # else recorded, not sampled
            self._put(tuple(rec))


def context_variable() -> tuple[ContextVar[Context], str] | None:
    """``(the context variable holding OpenTelemetry's current Context, the key of the
    current span in it)`` when OpenTelemetry keeps its context the default way (in a
    context variable: its API then reads and sets exactly that) — checked by a round
    trip through the API — else None, and thinktank goes through the API. Saves the
    dozen Python calls the API makes for a span made current and back."""
    try:
        from opentelemetry import context as context_api
        from opentelemetry.trace import propagation

        var = context_api._RUNTIME_CONTEXT._current_context  # type: ignore[attr-defined]
        key = propagation._SPAN_KEY
        if not isinstance(var, ContextVar) or not isinstance(key, str):
            return None
        probe = NonRecordingSpan(INVALID_SPAN_CONTEXT)
        values = var.get().copy()
        values[key] = probe
        token = var.set(Context(values))
        try:
            seen = get_current_span() is probe
        finally:
            var.reset(token)
        return (var, key) if seen and get_current_span() is not probe else None
    except Exception:
        return None
