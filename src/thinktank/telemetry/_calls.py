"""The spans of calls: a model call (``chat``, a leaf made when it has ended, timed back
from then), a tool call (``execute_tool``), a sandbox command (``sandbox.exec``) and a
cell of a persistent Python session (``sandbox.cell``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from thinktank.telemetry import _content
from thinktank.telemetry._base import KIND, OP, SpanMaker, log
from thinktank.telemetry._deferred import CHAT, build

T = TypeVar("T")


_NONE: dict[str, Any] = {}
"""A leaf's own attributes when all it has are shared and deferred (never written to)."""


def _answered(completions: Sequence[Any], cost: float, requested: str) -> tuple[Any, ...]:
    """What a model call that answered adds to its deferred figures: token counts, cost,
    finish reasons, the model that answered when it is not the one requested, the
    samples served from the cache."""
    if len(completions) == 1:  # the common case
        c = completions[0]
        usage = c.usage
        answered = c.model
        return (
            usage.prompt_tokens, usage.completion_tokens, cost, (c.finish_reason,),
            answered if answered != requested else None, usage.cached,
        )  # fmt: skip
    prompt = completion = cached = 0
    for c in completions:
        usage = c.usage
        prompt += usage.prompt_tokens
        completion += usage.completion_tokens
        cached += usage.cached
    answered = completions[0].model if completions else None
    return (
        prompt, completion, cost, tuple(c.finish_reason for c in completions),
        answered if answered != requested else None, cached,
    )  # fmt: skip


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
        start = end - int(max(latency_s, 0.0) * 1e9)
        try:  # the model's attributes (shared by its calls), then this call's figures
            known = self._models.get(id(model))  # _memo's lookup, inline (the hot path)
            _, name, base = (
                known[1] if known is not None and known[0]() is model else self._model(model)
            )
            asked = (
                CHAT, request.n, request.temperature, request.max_tokens, request.seed,
                request.stop, bool(request.response_format),
            )  # fmt: skip
            extra: tuple[Any, ...] | None = (
                asked
                if completions is None
                else asked + _answered(completions, cost_usd, base["gen_ai.request.model"])
            )
        except Exception:
            log.debug("describing a chat span failed", exc_info=True)
            name, base, extra = "chat", {OP: "chat"}, None
        if self._leaf is not None and error is None and not self.content:
            try:  # the OTLP export's fast path: the figures go as they are
                self._leaf(name, SpanKind.CLIENT, _NONE, start, end, base, extra)
            except Exception:
                log.debug("recording a chat span failed", exc_info=True)
            return
        attrs = {**base, **build(extra)} if extra is not None else dict(base or {})
        span = self._start(name, None, SpanKind.CLIENT, attrs, start)
        try:
            if error is not None:
                self._ended_by(span, error)
            elif completions is not None and self.content:
                system, rest = _content.split_system(request.messages)
                content = {
                    "gen_ai.input.messages": _content.dumps(rest),
                    "gen_ai.output.messages": _content.dumps(_content.completions(completions)),
                }
                if system:
                    content["gen_ai.system_instructions"] = _content.dumps(system)
                self._content(span, content)
        except Exception:
            log.debug("recording a chat span failed", exc_info=True)
        finally:
            span.end(end_time=end)

    def tool(self, run: Coroutine[Any, Any, T], call: Any, tool: Any) -> Coroutine[Any, Any, T]:
        try:
            attrs: dict[str, Any] = {
                OP: "execute_tool",
                "gen_ai.tool.name": str(call.name),
                "gen_ai.tool.call.id": str(call.id),
                "gen_ai.tool.type": "function",
                KIND: "TOOL",
            }
            if tool is not None and getattr(tool, "description", None):
                attrs["gen_ai.tool.description"] = str(tool.description)
        except Exception:
            log.debug("describing a tool span failed", exc_info=True)
            attrs = {OP: "execute_tool"}

        def finish(span: Span, result: Any) -> None:
            meta = result.metadata
            if result.is_error:
                kind = str(meta.get("error_type") or "tool_error")
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
            if meta.get("truncated_chars"):
                span.set_attribute("thinktank.tool.truncated_chars", int(meta["truncated_chars"]))
            if self.content:
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

        return self._traced(
            run, f"execute_tool {attrs.get('gen_ai.tool.name', '')}".rstrip(),
            SpanKind.INTERNAL, attrs, finish,
        )  # fmt: skip

    def sandbox_exec(
        self, run: Coroutine[Any, Any, T], sandbox: Any, argv: Sequence[str]
    ) -> Coroutine[Any, Any, T]:
        exe = str(argv[0]).rsplit("/", 1)[-1] if argv else ""
        return self._sandbox_span(
            run, sandbox, "sandbox.exec", exe,
            lambda: {"process.command_args": tuple(str(a) for a in argv)},
        )  # fmt: skip

    def sandbox_cell(
        self, run: Coroutine[Any, Any, T], sandbox: Any, code: str
    ) -> Coroutine[Any, Any, T]:
        def cell(res: Any, done: dict[str, Any]) -> None:
            if res.session_restarted:  # the interpreter's state was lost
                done["thinktank.session.restarted"] = True
            if res.error and not (res.timed_out or res.oom_killed):
                # the cell raised: its exception's type (the message is content)
                done["thinktank.cell.error_type"] = str(res.error).split(":", 1)[0][:200]

        return self._sandbox_span(
            run, sandbox, "sandbox.cell", "python", lambda: {"input.value": code}, cell
        )

    def _sandbox_span(
        self,
        run: Coroutine[Any, Any, T],
        sandbox: Any,
        what: str,
        executable: str,
        content: Callable[[], dict[str, Any]],
        more: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> Coroutine[Any, Any, T]:
        """A span of a command (or a session cell) in a sandbox: its exit code,
        truncation, timeout or OOM kill; ``content`` (made only when content is on) and
        ``more`` add what the kind of call knows."""
        backend = str(getattr(sandbox, "backend", "sandbox"))
        try:
            attrs: dict[str, Any] = {
                "thinktank.sandbox.backend": backend,
                "thinktank.sandbox.id": str(sandbox.id),
                "process.executable.name": executable,
                KIND: "CHAIN",
            }
        except Exception:
            log.debug("describing a %s span failed", what, exc_info=True)
            attrs = {}

        def finish(span: Span, res: Any) -> None:
            done: dict[str, Any] = {"process.exit.code": int(res.exit_code)}
            if res.truncated:
                done["thinktank.sandbox.truncated"] = True
            if more is not None:
                more(res, done)
            if res.timed_out or res.oom_killed:
                done["error.type"] = kind = "timeout" if res.timed_out else "oom_killed"
                span.set_status(Status(StatusCode.ERROR, kind))
            span.set_attributes(done)
            if self.content:
                self._content(span, content())

        return self._traced(run, f"{what} {backend}", SpanKind.INTERNAL, attrs, finish)
