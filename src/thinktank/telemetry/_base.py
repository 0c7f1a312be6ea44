"""What every span of :mod:`thinktank.telemetry` shares: the tracer and content setting,
one coroutine traced in a span made current, how an operation ended (a failure, a stop,
a cancellation), content where the user asked for it, token counts and cost, a model's
request attributes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from thinktank.errors import ControlFlow
from thinktank.telemetry._env import ContentCapture

log = logging.getLogger("thinktank.telemetry")

T = TypeVar("T")

OP = "gen_ai.operation.name"
KIND = "openinference.span.kind"
CONTENT_EVENT = "gen_ai.client.inference.operation.details"


class SpanMaker:
    """Tracing switched on: the tracer, the content setting, the provider if owned."""

    def __init__(self, tracer: Tracer, provider: Any, owned: bool, capture: ContentCapture):
        self.tracer = tracer
        self.provider = provider
        self.owned = owned
        self.capture = capture
        self._servers: dict[str, tuple[str, int | None] | None] = {}

    async def _traced(
        self,
        run: Coroutine[Any, Any, T],
        name: str,
        kind: SpanKind,
        describe: Callable[[], dict[str, Any]],
        finish: Callable[[Span, Any], None],
        context: Any = None,
        settle: Callable[[Span], None] | None = None,
    ) -> T:
        try:
            attrs = describe()
        except Exception:
            log.debug("describing span %s failed", name, exc_info=True)
            attrs = {}
        with self.tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attrs,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = await run
            except BaseException as exc:
                self._ended_by(span, exc)
                raise
            else:
                try:
                    finish(span, result)
                except Exception:
                    log.debug("recording span %s failed", name, exc_info=True)
                return result
            finally:
                if settle is not None:
                    try:
                        settle(span)
                    except Exception:
                        log.debug("recording span %s failed", name, exc_info=True)

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
    def _usage(span: Span, prompt: int, completion: int, cost: float | None) -> None:
        span.set_attribute("gen_ai.usage.input_tokens", int(prompt))
        span.set_attribute("gen_ai.usage.output_tokens", int(completion))
        if cost is not None:
            span.set_attribute("gen_ai.usage.cost", float(cost))

    def _server(self, model: Any) -> tuple[str, int | None] | None:
        url = getattr(model, "base_url", None)
        if not isinstance(url, str):
            return None
        if url not in self._servers:
            parts = urlsplit(url)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
            self._servers[url] = (parts.hostname, port) if parts.hostname else None
        return self._servers[url]

    def _model(self, model: Any) -> dict[str, Any]:
        """The request-side attributes of a model: its name, provider and server."""
        model_id = str(getattr(model, "model_id", "") or "")
        provider, sep, _ = model_id.partition(":")
        if not sep:
            provider = "openai" if hasattr(model, "base_url") else "thinktank"
        attrs: dict[str, Any] = {
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": str(getattr(model, "model", None) or model_id),
            "thinktank.model_id": model_id,
        }
        server = self._server(model)
        if server is not None:
            attrs["server.address"] = server[0]
            if server[1] is not None:
                attrs["server.port"] = server[1]
        return attrs
