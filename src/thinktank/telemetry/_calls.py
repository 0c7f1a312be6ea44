"""The spans of calls: a model call (``chat``, a leaf made when it has ended, timed back
from then), a tool call (``execute_tool``) and a sandbox command (``sandbox.exec``)."""

from __future__ import annotations

import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from thinktank.telemetry import _content
from thinktank.telemetry._base import KIND, OP, SpanMaker, log

T = TypeVar("T")


class CallSpans(SpanMaker):
    """The spans of model, tool and sandbox calls."""

    def chat(
        self,
        model: Any,
        request: Any,
        completions: Sequence[Any] | None,
        latency_s: float,
        cost_usd: float,
        error: BaseException | None,
    ) -> None:
        end = time.time_ns()
        try:
            attrs = self._model(model)
            attrs[OP] = "chat"
            attrs[KIND] = "LLM"
            if request.n != 1:
                attrs["gen_ai.request.choice.count"] = int(request.n)
            if request.temperature is not None:
                attrs["gen_ai.request.temperature"] = float(request.temperature)
            if request.max_tokens is not None:
                attrs["gen_ai.request.max_tokens"] = int(request.max_tokens)
            if request.seed is not None:
                attrs["gen_ai.request.seed"] = int(request.seed)
            if request.stop:
                attrs["gen_ai.request.stop_sequences"] = [str(s) for s in request.stop]
            if request.response_format:
                attrs["gen_ai.output.type"] = "json"
            name = f"chat {attrs['gen_ai.request.model']}"
        except Exception:
            log.debug("describing a chat span failed", exc_info=True)
            attrs, name = {OP: "chat"}, "chat"
        span = self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=end - int(max(latency_s, 0.0) * 1e9),
        )
        try:
            if error is not None:
                self._ended_by(span, error)
            elif completions is not None:
                self._chat_result(span, request, completions, cost_usd)
        except Exception:
            log.debug("recording a chat span failed", exc_info=True)
        finally:
            span.end(end_time=end)

    def _chat_result(
        self, span: Span, request: Any, completions: Sequence[Any], cost_usd: float
    ) -> None:
        self._usage(
            span,
            sum(c.usage.prompt_tokens for c in completions),
            sum(c.usage.completion_tokens for c in completions),
            cost_usd,
        )
        span.set_attribute(
            "gen_ai.response.finish_reasons", [str(c.finish_reason) for c in completions]
        )
        if completions and completions[0].model:
            span.set_attribute("gen_ai.response.model", str(completions[0].model))
        cached = sum(1 for c in completions if c.usage.cached)
        if cached:
            span.set_attribute("thinktank.cached_samples", cached)
        if self.capture.on:
            system, rest = _content.split_system(request.messages)
            attrs = {
                "gen_ai.input.messages": _content.dumps(rest),
                "gen_ai.output.messages": _content.dumps(_content.completions(completions)),
            }
            if system:
                attrs["gen_ai.system_instructions"] = _content.dumps(system)
            self._content(span, attrs)

    def tool(self, run: Coroutine[Any, Any, T], call: Any, tool: Any) -> Coroutine[Any, Any, T]:
        def describe() -> dict[str, Any]:
            attrs: dict[str, Any] = {
                OP: "execute_tool",
                "gen_ai.tool.name": str(call.name),
                "gen_ai.tool.call.id": str(call.id),
                "gen_ai.tool.type": "function",
                KIND: "TOOL",
            }
            if tool is not None and getattr(tool, "description", None):
                attrs["gen_ai.tool.description"] = str(tool.description)
            return attrs

        def finish(span: Span, result: Any) -> None:
            meta = result.metadata
            if result.is_error:
                kind = str(meta.get("error_type") or "tool_error")
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
            if meta.get("truncated_chars"):
                span.set_attribute("thinktank.tool.truncated_chars", int(meta["truncated_chars"]))
            if self.capture.on:
                args = call.arguments
                self._content(
                    span,
                    {
                        "gen_ai.tool.call.arguments": args
                        if isinstance(args, str)
                        else _content.dumps(args),
                        "gen_ai.tool.call.result": str(result.content),
                    },
                )

        return self._traced(run, f"execute_tool {call.name}", SpanKind.INTERNAL, describe, finish)

    def sandbox_exec(
        self, run: Coroutine[Any, Any, T], sandbox: Any, argv: Sequence[str]
    ) -> Coroutine[Any, Any, T]:
        backend = str(getattr(sandbox, "backend", "sandbox"))

        def describe() -> dict[str, Any]:
            return {
                "thinktank.sandbox.backend": backend,
                "thinktank.sandbox.id": str(sandbox.id),
                "process.executable.name": str(argv[0]).rsplit("/", 1)[-1] if argv else "",
                KIND: "CHAIN",
            }

        def finish(span: Span, res: Any) -> None:
            span.set_attribute("process.exit.code", int(res.exit_code))
            if res.truncated:
                span.set_attribute("thinktank.sandbox.truncated", True)
            if res.timed_out or res.oom_killed:
                kind = "timeout" if res.timed_out else "oom_killed"
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
            if self.capture.on:
                self._content(span, {"process.command_args": [str(a) for a in argv]})

        return self._traced(run, f"sandbox.exec {backend}", SpanKind.INTERNAL, describe, finish)
