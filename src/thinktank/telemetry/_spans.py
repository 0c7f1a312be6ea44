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
from operator import attrgetter
from typing import Any, TypeVar

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from thinktank.telemetry import _content
from thinktank.telemetry._base import KIND, OP, log
from thinktank.telemetry._calls import CallSpans
from thinktank.telemetry._deferred import AGENT
from thinktank.telemetry._env import ContentCapture

T = TypeVar("T")

_PROMPT = attrgetter("prompt_tokens")
_COMPLETION = attrgetter("completion_tokens")
_COST = attrgetter("cost_usd")


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
        try:
            attrs: dict[str, Any] = {
                OP: "invoke_workflow",
                "gen_ai.workflow.name": graph,
                "thinktank.run.id": run_id,
                "thinktank.task.id": str(task.get("id", "")),
                "thinktank.task.kind": str(task.get("kind") or "text"),
                KIND: "CHAIN",
            }
        except Exception:
            log.debug("describing a workflow span failed", exc_info=True)
            attrs = {OP: "invoke_workflow"}

        def finish(span: Span, final: Any) -> None:
            final = final or {}
            span.set_attributes(
                {
                    "thinktank.run.status": str(final.get("status") or "ok"),
                    "thinktank.rounds": int(final.get("round") or 1),
                }
            )
            if self.content:
                res = final.get("result")
                answer = (
                    res.get("answer") if isinstance(res, Mapping) else getattr(res, "answer", None)
                )
                text = "" if answer is None else str(answer)
                prompt = str(task.get("prompt", ""))
                self._content(
                    span,
                    {
                        "gen_ai.input.messages": _content.dumps(_content.user(prompt)),
                        "gen_ai.output.messages": _content.dumps(_content.assistant(text)),
                        "input.value": prompt,
                        "output.value": text,
                    },
                )

        def settle(span: Span) -> None:  # however the run ended (a budget's refusal too)
            mine = [r for r in list(ledger.records) if r.labels.get("run") == run_id]
            done = self.usage(
                sum(map(_PROMPT, mine)), sum(map(_COMPLETION, mine)), sum(map(_COST, mine))
            )
            done["thinktank.calls"] = len(mine)
            span.set_attributes(done)

        return self._traced(
            run, f"invoke_workflow {graph}", SpanKind.INTERNAL, attrs, finish, settle=settle
        )

    def agent(
        self, run: Coroutine[Any, Any, T], agent: Any, sample_id: str, rnd: int, sample: int
    ) -> Coroutine[Any, Any, T]:
        try:  # what all samples of the agent share, then this one's (deferred)
            known = self._agents.get(id(agent))  # _memo's lookup, inline (the hot path)
            if known is not None and known[0]() is agent:
                name, base = known[1]
            else:
                name, base = self._memo(self._agents, agent, self._agent_info)
            extra: tuple[Any, ...] | None = (AGENT, sample_id, rnd, sample)
            attrs: dict[str, Any] = {}
        except Exception:
            log.debug("describing an agent span failed", exc_info=True)
            name, base, extra, attrs = "invoke_agent", None, None, {OP: "invoke_agent"}

        def done(span: Span, traj: Any) -> tuple[Any, ...] | None:
            return self._agent_done(span, traj, extra)

        return self._run(  # _traced's call, direct
            run, name, None, SpanKind.INTERNAL, attrs, base, extra, done, None, self._ended_by
        )

    def _agent_info(self, agent: Any) -> tuple[str, dict[str, Any]]:
        """An agent's span name and the attributes all its samples share (worked out once
        per agent: an agent's name, role and model do not change)."""
        attrs: dict[str, Any] = {
            OP: "invoke_agent",
            "gen_ai.agent.name": str(agent.name),
            "gen_ai.request.model": self._model(agent.model)[0]["gen_ai.request.model"],
            "thinktank.agent.role": str(agent.role),
            KIND: "AGENT",
        }
        return f"invoke_agent {attrs['gen_ai.agent.name']}".rstrip(), attrs

    def _agent_done(
        self, span: Span, traj: Any, extra: tuple[Any, ...] | None
    ) -> tuple[Any, ...] | None:
        """What a sample's span records when it ends: its deferred figures, returned
        (``extra``: those it started with), or, without them, its attributes set."""
        prompt = completion = 0
        for st in traj.steps:
            usage = st.usage
            prompt += usage.prompt_tokens
            completion += usage.completion_tokens
        status = traj.status
        if status == "error":
            span.set_status(Status(StatusCode.ERROR, str(traj.error or "")[:500]))
        figures = None
        if extra is not None:
            refused = traj.refused_by
            figures = (*extra, prompt, completion, str(status), str(refused) if refused else None)
        else:  # describing the span failed: no deferred record
            done = self.usage(prompt, completion)
            done["thinktank.sample.status"] = str(status)
            span.set_attributes(done)
        if self.content:
            system, rest = _content.split_system(traj.messages[:2])
            output = traj.output if isinstance(traj.output, str) else _content.dumps(traj.output)
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
        return figures

    def eval_task(self, run: Coroutine[Any, Any, T], job: Any) -> Coroutine[Any, Any, T]:
        task = job.task
        try:
            attrs: dict[str, Any] = {
                "thinktank.graph": str(job.graph),
                "thinktank.task.id": str(task.id),
                "thinktank.task.kind": str(task.kind),
                "thinktank.task.index": int(job.index),
                "thinktank.run.id": str(job.run_id),
                "thinktank.attempt": int(job.attempt),
                KIND: "CHAIN",
            }
        except Exception:
            log.debug("describing an eval task span failed", exc_info=True)
            attrs = {}

        def finish(span: Span, rec: Any) -> None:
            status = str(getattr(rec.status, "value", rec.status))
            done = self.usage(rec.prompt_tokens, rec.completion_tokens, rec.cost)
            done["thinktank.task.status"] = status
            if rec.correct is not None:
                done["thinktank.task.correct"] = bool(rec.correct)
            if rec.score is not None:
                done["thinktank.task.score"] = float(rec.score)
            if status == "error":
                done["error.type"] = "task_error"
                span.set_status(Status(StatusCode.ERROR, str(rec.error or "")[:500]))
            span.set_attributes(done)
            if self.content:
                answer = "" if rec.answer is None else str(rec.answer)
                self._content(span, {"input.value": str(task.prompt), "output.value": answer})

        return self._traced(run, f"eval_task {job.graph}", SpanKind.INTERNAL, attrs, finish)

    def served(
        self, run: Coroutine[Any, Any, T], model: str, response_id: str, headers: Mapping[str, str]
    ) -> Coroutine[Any, Any, T]:
        attrs: dict[str, Any] = {
            OP: "chat",
            "gen_ai.provider.name": "thinktank",
            "gen_ai.request.model": model,
            "gen_ai.response.id": response_id,
            KIND: "CHAIN",
        }
        try:  # a client's W3C traceparent: this request's trace goes on from there
            parent = propagate.extract(headers)
        except Exception:
            log.debug("reading trace headers failed", exc_info=True)
            parent = None

        def finish(span: Span, res: Any) -> None:
            totals = res.usage.totals
            done = self.usage(totals.prompt_tokens, totals.completion_tokens, res.cost)
            done["thinktank.run.status"] = str(res.status.value)
            span.set_attributes(done)
            if self.content:
                answer = "" if res.answer is None else str(res.answer)
                self._content(
                    span,
                    {"gen_ai.output.messages": _content.dumps(_content.assistant(answer))},
                )

        return self._traced(run, f"chat {model}", SpanKind.SERVER, attrs, finish, context=parent)
