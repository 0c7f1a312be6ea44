"""Attributes written by the exporting process: a span of thinktank's hot path (a model
call, a node sample) records its figures as a short tuple of plain values — ``(code,
*values)`` — and :func:`build` makes them the attributes the span carries, in the
exporting process (:mod:`thinktank.telemetry._sidecar`) for the OTLP export, in the
traced process for any other tracer. One function per kind of span, so both ways give
the same attributes; the traced process only reads what it already has."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("thinktank.telemetry")

CHAT = 1
"""A model call: ``(CHAT, n, temperature, max_tokens, seed, stop, json)`` for a call that
failed, then, for one that answered, ``prompt_tokens, completion_tokens, cost,
finish_reasons, response_model, cached_samples`` (``response_model`` None when it is
the requested one)."""

AGENT = 2
"""A node sample: ``(AGENT, sample_id, round, sample)`` while it runs, then ``(AGENT,
sample_id, round, sample, prompt_tokens, completion_tokens, status, refused_by)``."""


def _chat(
    n: int,
    temperature: float | None,
    max_tokens: int | None,
    seed: int | None,
    stop: Any,
    json: bool,
    *done: Any,
) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if n != 1:
        attrs["gen_ai.request.choice.count"] = int(n)
    if temperature is not None:
        attrs["gen_ai.request.temperature"] = float(temperature)
    if max_tokens is not None:
        attrs["gen_ai.request.max_tokens"] = int(max_tokens)
    if seed is not None:
        attrs["gen_ai.request.seed"] = int(seed)
    if stop:
        attrs["gen_ai.request.stop_sequences"] = tuple(str(s) for s in stop)
    if json:
        attrs["gen_ai.output.type"] = "json"
    if done:
        prompt, completion, cost, reasons, answered, cached = done
        attrs["gen_ai.usage.input_tokens"] = int(prompt)
        attrs["gen_ai.usage.output_tokens"] = int(completion)
        attrs["gen_ai.usage.cost"] = float(cost)
        attrs["gen_ai.response.finish_reasons"] = tuple(str(r) for r in reasons)
        if answered:
            attrs["gen_ai.response.model"] = str(answered)
        if cached:
            attrs["thinktank.cached_samples"] = int(cached)
    return attrs


def _agent(sample_id: str, rnd: int, sample: int, *done: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.agent.id": str(sample_id),
        "thinktank.round": int(rnd),
        "thinktank.sample": int(sample),
    }
    if done:
        prompt, completion, status, refused_by = done
        attrs["gen_ai.usage.input_tokens"] = int(prompt)
        attrs["gen_ai.usage.output_tokens"] = int(completion)
        attrs["thinktank.sample.status"] = str(status)
        if status == "error":
            attrs["error.type"] = "agent_error"
        elif refused_by:
            attrs["thinktank.refused_by"] = str(refused_by)
    return attrs


_BUILDERS: dict[int, Callable[..., dict[str, Any]]] = {CHAT: _chat, AGENT: _agent}


def build(extra: tuple[Any, ...]) -> dict[str, Any]:
    """The attributes of a deferred record ``(code, *values)``."""
    return _BUILDERS[extra[0]](*extra[1:])


def merged(
    shared: dict[str, Any] | None, extra: tuple[Any, ...] | None, attrs: dict[str, Any]
) -> dict[str, Any]:
    """A span's attributes in one mapping: shared, deferred, then its own."""
    if extra is None:
        return {**shared, **attrs} if shared else attrs
    return {**(shared or {}), **build(extra), **attrs}


def finished(
    span: Any,
    finish: Callable[[Any, Any], Any],
    result: Any,
    name: str,
    keep: Callable[[Any, Any], bool] | None = None,
) -> None:
    """``finish(span, result)``; the deferred figures it returns kept by ``keep(span,
    figures)`` when it takes them, else set built; a failure logged (tracing never changes
    a run)."""
    try:
        figures = finish(span, result)
        if figures is not None and (keep is None or not keep(span, figures)):
            span.set_attributes(build(figures))
    except Exception:
        log.debug("recording span %s failed", name, exc_info=True)


def settled(span: Any, settle: Callable[[Any], None] | None, name: str) -> None:
    """``settle(span)`` when given, however the span's operation ended; a failure logged."""
    if settle is not None:
        try:
            settle(span)
        except Exception:
            log.debug("recording span %s failed", name, exc_info=True)
