"""What every span of :mod:`thinktank.telemetry` shares: the tracer and content setting,
one coroutine traced in a span made current, how an operation ended (a failure, a stop,
a cancellation), content where the user asked for it, token counts and cost, a model's
request attributes."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry.context import attach, detach
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context

from thinktank.errors import ControlFlow
from thinktank.telemetry._deferred import build, finished, settled
from thinktank.telemetry._env import ContentCapture

log = logging.getLogger("thinktank.telemetry")

T = TypeVar("T")

OP = "gen_ai.operation.name"
KIND = "openinference.span.kind"
CONTENT_EVENT = "gen_ai.client.inference.operation.details"


class SpanMaker:
    """Tracing switched on: the tracer, the content setting, the provider if owned.

    Every span's attributes are given in one mapping when it starts and one when it
    ends (each attribute write takes the span's lock and checks the value): a span
    costs the SDK's floor and little more."""

    def __init__(self, tracer: Tracer, provider: Any, owned: bool, capture: ContentCapture):
        self.tracer = tracer
        self.provider = provider
        self.owned = owned
        self.capture = capture
        self.content = capture.on
        # (name, context, kind, attributes, start_time) -> span: the tracer's own fast
        # path for attributes that are plain values and the hook's to give away
        # (thinktank's OTLP export, _pipe), else the API's start_span
        self._start: Callable[..., Span] = getattr(tracer, "start_plain", None) or self._api_start
        # (run, name, context, kind, attributes, shared, deferred, finish, settle,
        # ended_by) -> run in a span made current, ended however it ends (see _traced):
        # the same tracers' own, in one frame, else through the API
        self._run: Callable[..., Coroutine[Any, Any, Any]] = (
            getattr(tracer, "traced", None) or self._api_run
        )
        # (name, kind, attributes, start, end, shared, deferred): a finished leaf span with
        # nothing more to record, without a span object (the same tracers' fast path),
        # else None
        self._leaf: Callable[..., None] | None = getattr(tracer, "leaf_plain", None)
        # what is worked out once per model and per agent, by id while it lives (_memo)
        self._models: dict[int, tuple[Any, Any]] = {}
        self._agents: dict[int, tuple[Any, Any]] = {}

    def _traced(
        self,
        run: Coroutine[Any, Any, T],
        name: str,
        kind: SpanKind,
        attrs: dict[str, Any],
        finish: Callable[[Span, Any], tuple[Any, ...] | None],
        context: Any = None,
        settle: Callable[[Span], None] | None = None,
        shared: dict[str, Any] | None = None,
        extra: tuple[Any, ...] | None = None,
    ) -> Coroutine[Any, Any, T]:
        """``run`` in a span made current (its tasks inherit it), ended however it ends:
        ``finish(span, result)``, which may return the span's deferred figures
        (:mod:`~thinktank.telemetry._deferred`), or how it failed; ``settle(span)`` either
        way (``shared``: attributes before ``attrs`` that many spans share; ``extra``:
        deferred ones, see :meth:`~thinktank.telemetry._pipe.PipeTracer.leaf_plain`)."""
        return self._run(
            run, name, context, kind, attrs, shared, extra, finish, settle, self._ended_by
        )

    async def _api_run(
        self,
        run: Coroutine[Any, Any, T],
        name: str,
        context: Any,
        kind: SpanKind,
        attrs: dict[str, Any],
        shared: dict[str, Any] | None,
        extra: tuple[Any, ...] | None,
        finish: Callable[[Span, Any], tuple[Any, ...] | None],
        settle: Callable[[Span], None] | None,
        ended_by: Callable[[Span, BaseException], None],
    ) -> T:
        """:meth:`_traced` through the API (a tracer of an SDK provider)."""
        if extra is not None:
            attrs = {**build(extra), **attrs}
        span = self._start(name, context, kind, {**shared, **attrs} if shared else attrs)
        token = attach(set_span_in_context(span))
        try:
            result = await run
        except BaseException as exc:
            ended_by(span, exc)
            raise
        else:
            finished(span, finish, result, name)
            return result
        finally:
            settled(span, settle, name)
            detach(token)
            span.end()

    def _api_start(
        self,
        name: str,
        context: Any,
        kind: SpanKind,
        attrs: dict[str, Any],
        start_time: int | None = None,
    ) -> Span:
        return self.tracer.start_span(
            name,
            context,
            kind,
            attrs,
            start_time=start_time,
            record_exception=False,
            set_status_on_exception=False,
        )

    @staticmethod
    def _ended_by(span: Span, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            span.set_attribute("thinktank.cancelled", True)
        elif isinstance(exc, ControlFlow):  # a budget's refusal, a submit: not a failure
            span.set_attribute("thinktank.stopped_by", type(exc).__name__)
            budget = getattr(exc, "budget", None)
            if budget:
                span.set_attribute("thinktank.refused_by", str(budget))
        else:
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))

    def _content(self, span: Span, attrs: Mapping[str, Any]) -> None:
        """Message content, where the user asked for it (never otherwise)."""
        if self.capture.spans:
            span.set_attributes(attrs)
        if self.capture.events:
            span.add_event(CONTENT_EVENT, attrs)

    @staticmethod
    def usage(prompt: int, completion: int, cost: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gen_ai.usage.input_tokens": int(prompt),
            "gen_ai.usage.output_tokens": int(completion),
        }
        if cost is not None:
            out["gen_ai.usage.cost"] = float(cost)
        return out

    def _model(self, model: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        """A model's request-side attributes (its name, provider and server), its calls'
        span name and their first attributes: worked out once per model, copied by the
        callers before they add their own."""
        return self._memo(self._models, model, _model_info)

    def _memo(self, table: dict[int, tuple[Any, Any]], obj: Any, build: Callable[[Any], T]) -> T:
        """``build(obj)``, kept in ``table`` while ``obj`` lives (a weak reference's
        callback forgets it): a plain dict lookup, where a WeakKeyDictionary makes a
        weak reference on every one."""
        key = id(obj)
        known = table.get(key)
        if known is not None and known[0]() is obj:
            return known[1]
        info = build(obj)

        def gone(_: weakref.ref[Any]) -> None:
            known = table.get(key)
            if known is not None and known[0]() is None:
                del table[key]

        try:
            ref = weakref.ref(obj, gone)
        except TypeError:  # cannot be weakly referenced: no memo
            return info
        table[key] = (ref, info)
        return info


def _model_info(model: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A model's attributes, its calls' span name and their first attributes (Phoenix
    makes a span an LLM span from its operation: no KIND needed)."""
    attrs = _model_attributes(model)
    return attrs, f"chat {attrs['gen_ai.request.model']}", {**attrs, OP: "chat"}


def _model_attributes(model: Any) -> dict[str, Any]:
    model_id = str(getattr(model, "model_id", "") or "")
    provider, sep, _ = model_id.partition(":")
    url = getattr(model, "base_url", None)
    if not sep:
        provider = "openai" if isinstance(url, str) else "thinktank"
    name = str(getattr(model, "model", None) or model_id)
    attrs: dict[str, Any] = {"gen_ai.provider.name": provider, "gen_ai.request.model": name}
    if model_id != name:
        attrs["thinktank.model_id"] = model_id
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.hostname:
            attrs["server.address"] = parts.hostname
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
            if port is not None:
                attrs["server.port"] = port
    return attrs
