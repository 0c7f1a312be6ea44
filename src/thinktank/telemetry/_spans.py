"""The spans (imported by :func:`thinktank.telemetry.configure` only).

Each hook wraps the coroutine of the operation it traces in one that opens the span,
makes it current (so what the operation does — LangGraph's tasks, the agents' model
calls, the tools' sandbox commands — nests under it through the context variable that
asyncio copies into every task), awaits it, and records how it ended. A model call is
a leaf: its span is made when the call has ended, timed back from then. Tracing never
changes a run: a failure to describe a span is logged and the operation goes on.

Attributes follow the OpenTelemetry GenAI conventions (``gen_ai.*``); the cost is
``gen_ai.usage.cost`` (US dollars, as Langfuse reads it); ``openinference.span.kind``
gives Phoenix's span kinds; thinktank's own figures are ``thinktank.*``.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from importlib import metadata
from typing import Any, TypeVar

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from thinktank.telemetry import _content
from thinktank.telemetry._base import KIND, OP
from thinktank.telemetry._calls import CallSpans
from thinktank.telemetry._env import ContentCapture

T = TypeVar("T")


class Tracing(CallSpans):
    """Tracing switched on (what :func:`thinktank.telemetry.configure` keeps): the spans
    of runs, node samples, eval tasks and served requests, and those of calls."""

    @classmethod
    def start(cls, provider: Any, capture: ContentCapture, service_name: str) -> Tracing:
        owned = provider is None
        if owned:
            from thinktank.telemetry._provider import build_provider

            provider = build_provider(service_name)
        try:
            version: str | None = metadata.version("thinktank")
        except metadata.PackageNotFoundError:
            version = None
        return cls(provider.get_tracer("thinktank", version), provider, owned, capture)

    def close(self) -> None:
        if self.owned:
            self.provider.shutdown()  # exports what is batched, then closes the exporters

    def workflow(
        self,
        run: Coroutine[Any, Any, T],
        graph: str,
        run_id: str,
        task: Mapping[str, Any],
        ledger: Any,
    ) -> Coroutine[Any, Any, T]:
        def describe() -> dict[str, Any]:
            return {
                OP: "invoke_workflow",
                "gen_ai.workflow.name": graph,
                "thinktank.run.id": run_id,
                "thinktank.task.id": str(task.get("id", "")),
                "thinktank.task.kind": str(task.get("kind") or "text"),
                KIND: "CHAIN",
            }

        def finish(span: Span, final: Any) -> None:
            final = final or {}
            span.set_attribute("thinktank.run.status", str(final.get("status") or "ok"))
            span.set_attribute("thinktank.rounds", int(final.get("round") or 1))
            res = final.get("result")
            answer = res.get("answer") if isinstance(res, Mapping) else getattr(res, "answer", None)
            if self.capture.on:
                prompt = str(task.get("prompt", ""))
                self._content(
                    span,
                    {
                        "gen_ai.input.messages": _content.dumps(_content.user(prompt)),
                        "gen_ai.output.messages": _content.dumps(
                            _content.assistant("" if answer is None else str(answer))
                        ),
                        "input.value": prompt,
                        "output.value": "" if answer is None else str(answer),
                    },
                )

        def settle(span: Span) -> None:  # however the run ended (a budget's refusal too)
            calls = [r for r in list(ledger.records) if r.labels.get("run") == run_id]
            self._usage(
                span,
                sum(r.prompt_tokens for r in calls),
                sum(r.completion_tokens for r in calls),
                sum(r.cost_usd for r in calls),
            )
            span.set_attribute("thinktank.calls", len(calls))

        return self._traced(
            run, f"invoke_workflow {graph}", SpanKind.INTERNAL, describe, finish, settle=settle
        )

    def agent(
        self, run: Coroutine[Any, Any, T], agent: Any, sample_id: str, rnd: int, sample: int
    ) -> Coroutine[Any, Any, T]:
        def describe() -> dict[str, Any]:
            attrs = self._model(agent.model)
            attrs.update(
                {
                    OP: "invoke_agent",
                    "gen_ai.agent.name": str(agent.name),
                    "gen_ai.agent.id": sample_id,
                    "thinktank.agent.role": str(agent.role),
                    "thinktank.round": int(rnd),
                    "thinktank.sample": int(sample),
                    KIND: "AGENT",
                }
            )
            if agent.temperature is not None:
                attrs["gen_ai.request.temperature"] = float(agent.temperature)
            if agent.max_tokens is not None:
                attrs["gen_ai.request.max_tokens"] = int(agent.max_tokens)
            return attrs

        def finish(span: Span, traj: Any) -> None:
            steps = traj.steps
            span.set_attribute("thinktank.sample.status", str(traj.status))
            span.set_attribute("thinktank.steps", len(steps))
            self._usage(
                span,
                sum(s.usage.prompt_tokens for s in steps),
                sum(s.usage.completion_tokens for s in steps),
                None,
            )
            if traj.status == "error":
                span.set_attribute("error.type", "agent_error")
                span.set_status(Status(StatusCode.ERROR, str(traj.error or "")[:500]))
            elif traj.refused_by:
                span.set_attribute("thinktank.refused_by", str(traj.refused_by))
            if self.capture.on:
                system, rest = _content.split_system(traj.messages[:2])
                output = (
                    traj.output if isinstance(traj.output, str) else _content.dumps(traj.output)
                )
                self._content(
                    span,
                    {
                        "gen_ai.system_instructions": _content.dumps(system),
                        "gen_ai.input.messages": _content.dumps(rest),
                        "gen_ai.output.messages": _content.dumps(_content.assistant(output)),
                        "input.value": _content.dumps(rest),
                        "output.value": output,
                    },
                )

        return self._traced(run, f"invoke_agent {agent.name}", SpanKind.INTERNAL, describe, finish)

    def eval_task(self, run: Coroutine[Any, Any, T], job: Any) -> Coroutine[Any, Any, T]:
        task = job.task

        def describe() -> dict[str, Any]:
            return {
                "thinktank.graph": str(job.graph),
                "thinktank.task.id": str(task.id),
                "thinktank.task.kind": str(task.kind),
                "thinktank.task.index": int(job.index),
                "thinktank.run.id": str(job.run_id),
                "thinktank.attempt": int(job.attempt),
                KIND: "CHAIN",
            }

        def finish(span: Span, rec: Any) -> None:
            status = getattr(rec.status, "value", rec.status)
            span.set_attribute("thinktank.task.status", str(status))
            if rec.correct is not None:
                span.set_attribute("thinktank.task.correct", bool(rec.correct))
            if rec.score is not None:
                span.set_attribute("thinktank.task.score", float(rec.score))
            self._usage(span, rec.prompt_tokens, rec.completion_tokens, rec.cost)
            if str(status) == "error":
                span.set_attribute("error.type", "task_error")
                span.set_status(Status(StatusCode.ERROR, str(rec.error or "")[:500]))
            if self.capture.on:
                answer = "" if rec.answer is None else str(rec.answer)
                self._content(span, {"input.value": str(task.prompt), "output.value": answer})

        return self._traced(run, f"eval_task {job.graph}", SpanKind.INTERNAL, describe, finish)

    def served(
        self, run: Coroutine[Any, Any, T], model: str, response_id: str, headers: Mapping[str, str]
    ) -> Coroutine[Any, Any, T]:
        def describe() -> dict[str, Any]:
            return {
                OP: "chat",
                "gen_ai.provider.name": "thinktank",
                "gen_ai.request.model": model,
                "gen_ai.response.id": response_id,
                KIND: "CHAIN",
            }

        def finish(span: Span, res: Any) -> None:
            totals = res.usage.totals
            span.set_attribute("gen_ai.response.model", model)
            span.set_attribute("thinktank.run.status", str(res.status.value))
            self._usage(span, totals.prompt_tokens, totals.completion_tokens, res.cost)
            if self.capture.on:
                answer = "" if res.answer is None else str(res.answer)
                self._content(
                    span,
                    {"gen_ai.output.messages": _content.dumps(_content.assistant(answer))},
                )

        parent = propagate.extract(dict(headers))
        return self._traced(run, f"chat {model}", SpanKind.SERVER, describe, finish, context=parent)
