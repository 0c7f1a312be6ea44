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
        base: dict[str, Any] | None = None
        try:  # the model's attributes (shared by its calls), then this call's
            _, name, base = self._model(model)
            attrs: dict[str, Any] = {}
            if request.n != 1:
                attrs["gen_ai.request.choice.count"] = int(request.n)
            if request.temperature is not None:
                attrs["gen_ai.request.temperature"] = float(request.temperature)
            if request.max_tokens is not None:
                attrs["gen_ai.request.max_tokens"] = int(request.max_tokens)
            if request.seed is not None:
                attrs["gen_ai.request.seed"] = int(request.seed)
            if request.stop:
                attrs["gen_ai.request.stop_sequences"] = tuple(str(s) for s in request.stop)
            if request.response_format:
                attrs["gen_ai.output.type"] = "json"
            if completions is not None:
                prompt = completion = cached = 0
                reasons = []
                for c in completions:
                    usage = c.usage
                    prompt += usage.prompt_tokens
                    completion += usage.completion_tokens
                    cached += usage.cached
                    reasons.append(c.finish_reason)
                attrs.update(self.usage(prompt, completion, cost_usd))
                attrs["gen_ai.response.finish_reasons"] = tuple(reasons)
                if completions:
                    answered = completions[0].model
                    if answered and answered != base["gen_ai.request.model"]:
                        attrs["gen_ai.response.model"] = str(answered)
                if cached:
                    attrs["thinktank.cached_samples"] = cached
        except Exception:
            log.debug("describing a chat span failed", exc_info=True)
            attrs, name, base = {OP: "chat"}, "chat", None
        start = end - int(max(latency_s, 0.0) * 1e9)
        if self._leaf is not None and error is None and not self.content:
            try:
                self._leaf(name, SpanKind.CLIENT, attrs, start, end, base)
            except Exception:
                log.debug("recording a chat span failed", exc_info=True)
            return
        if base:
            attrs = {**base, **attrs}
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
