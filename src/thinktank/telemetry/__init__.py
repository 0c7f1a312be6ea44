"""OpenTelemetry traces of runs, in the GenAI semantic conventions (the ``otel`` extra).

A graph run is an ``invoke_workflow`` span; each node sample an ``invoke_agent`` span
under it; each model call a ``chat`` span; each tool call an ``execute_tool`` span;
each sandbox command a ``sandbox.exec`` span; each cell of a persistent Python
session a ``sandbox.cell`` span; each task of an eval run a
``thinktank.eval_task`` span around its graph run and judging; each request to
``thinktank serve`` a server ``chat`` span around its run. Token counts and cost are
on the spans; message content only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
asks for it. The parent/child structure follows the run through asyncio tasks and
LangGraph's steps (the OpenTelemetry context is a context variable)::

    from thinktank import telemetry
    telemetry.configure()          # OTLP exporter from the OTEL_* variables
    ...                            # runs are traced
    telemetry.shutdown()           # flush

or ``telemetry.configure(tracer_provider=provider)`` to send thinktank's spans through a
provider of your own (e.g. ``phoenix.otel.register()``'s). The CLI (``run``, ``eval``,
``serve``) calls :func:`configure_from_env`: tracing is on when ``OTEL_TRACES_EXPORTER``
or an ``OTEL_EXPORTER_OTLP_*ENDPOINT`` variable is set.

**Off, it costs nothing**: this module imports no OpenTelemetry package, and each hook
below — called by graphs, llm, tools, sandboxes, the eval runner and serve — returns
what it was given (the coroutine itself) or returns at once, after one read of a
module variable. The implementation (:mod:`thinktank.telemetry._spans`) is imported by
:func:`configure` only.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from thinktank.telemetry._env import (
    CAPTURE_CONTENT_ENV,
    ContentCapture,
    content_capture,
    destination,
    tracing_requested,
)

if TYPE_CHECKING:
    from thinktank.telemetry._spans import Tracing

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "ContentCapture",
    "configure",
    "configure_from_env",
    "content_capture",
    "destination",
    "enabled",
    "shutdown",
    "tracing_requested",
]

T = TypeVar("T")

_impl: Tracing | None = None
"""The tracing in force, ``None`` while off: the hooks read it and, when it is ``None``,
nothing else."""


def enabled() -> bool:
    """True while thinktank makes spans."""
    return _impl is not None


def configure(
    *,
    tracer_provider: Any = None,
    capture_content: ContentCapture | bool | None = None,
    service_name: str = "thinktank",
) -> None:
    """Turn tracing on.

    Without ``tracer_provider``, a provider of thinktank's own is built from the standard
    variables: ``OTEL_TRACES_EXPORTER`` (``otlp``, the default, ``console`` or ``none``),
    ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` (``http/protobuf``, the default, or
    ``grpc``), ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` / ``_HEADERS`` / ``_TIMEOUT``,
    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (``service.name`` defaults
    to ``service_name``), ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``; :func:`shutdown`
    flushes and closes it. With a ``tracer_provider`` (an SDK ``TracerProvider`` you
    set up), spans go through it and it stays yours.

    ``capture_content``: record message content (prompts, replies, tool arguments and
    results, commands); default from ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    (off unless set). Raises :class:`~thinktank.errors.MissingDependency` without the
    ``otel`` extra, :class:`~thinktank.errors.ConfigError` for a variable it cannot use.
    """
    global _impl
    from thinktank.errors import MissingDependency

    try:
        from thinktank.telemetry import _spans
    except ImportError as exc:
        raise MissingDependency(
            "tracing needs OpenTelemetry: install the otel extra: pip install 'thinktank[otel]'"
        ) from exc
    capture = content_capture() if capture_content is None else ContentCapture.of(capture_content)
    new = _spans.Tracing.start(tracer_provider, capture, service_name)
    old, _impl = _impl, new
    if old is not None:
        old.close()


def configure_from_env(service_name: str = "thinktank") -> bool:
    """For applications (the CLI): :func:`configure` when the ``OTEL_*`` variables ask for
    traces (see :func:`tracing_requested`); a warning on stderr, and no tracing, when they
    do but the ``otel`` extra is not installed. True when tracing is on."""
    from thinktank.errors import MissingDependency

    if not tracing_requested():
        return False
    try:
        configure(service_name=service_name)
    except MissingDependency as exc:
        print(f"warning: not tracing: {exc}", file=sys.stderr)
        return False
    return True


def shutdown() -> None:
    """Turn tracing off: later runs make no spans; a provider :func:`configure` built is
    flushed (its spans exported) and closed. Safe to call when tracing is off."""
    global _impl
    impl, _impl = _impl, None
    if impl is not None:
        impl.close()


# --- hooks: each returns its argument untouched (or returns) while tracing is off -------


def workflow(
    run: Coroutine[Any, Any, T], graph: str, run_id: str, task: Mapping[str, Any], ledger: Any
) -> Coroutine[Any, Any, T]:
    """A graph run (``invoke_workflow``): ``run`` is the LangGraph invocation; ``ledger``
    the run's usage ledger (its totals go on the span when the run ends)."""
    impl = _impl
    if impl is None:
        return run
    return impl.workflow(run, graph, run_id, task, ledger)


def agent(
    run: Coroutine[Any, Any, T], agent: Any, sample_id: str, rnd: int, sample: int
) -> Coroutine[Any, Any, T]:
    """A node sample (``invoke_agent``): ``run`` is the agent's run, ending in its trajectory."""
    impl = _impl
    if impl is None:
        return run
    return impl.agent(run, agent, sample_id, rnd, sample)


def chat(
    model: Any,
    request: Any,
    completions: Sequence[Any] | None,
    latency_s: float,
    cost_usd: float = 0.0,
    error: BaseException | None = None,
) -> None:
    """A model call that just ended (``chat``; a leaf span, timed back from its end):
    its completions and cost, or the error it ended with."""
    impl = _impl
    if impl is None:
        return
    impl.chat(model, request, completions, latency_s, cost_usd, error)


def tool(run: Coroutine[Any, Any, T], call: Any, tool: Any) -> Coroutine[Any, Any, T]:
    """A tool call (``execute_tool``): ``run`` ends in its ``ToolResult``."""
    impl = _impl
    if impl is None:
        return run
    return impl.tool(run, call, tool)


def sandbox_exec(
    run: Coroutine[Any, Any, T], sandbox: Any, argv: Sequence[str]
) -> Coroutine[Any, Any, T]:
    """A command in a sandbox (``sandbox.exec``): ``run`` ends in its ``ExecResult``."""
    impl = _impl
    if impl is None:
        return run
    return impl.sandbox_exec(run, sandbox, argv)


def sandbox_cell(run: Coroutine[Any, Any, T], sandbox: Any, code: str) -> Coroutine[Any, Any, T]:
    """A cell of a persistent Python session in a sandbox (``sandbox.cell``): ``run``
    ends in its ``CellResult``."""
    impl = _impl
    if impl is None:
        return run
    return impl.sandbox_cell(run, sandbox, code)


def eval_task(run: Coroutine[Any, Any, T], job: Any) -> Coroutine[Any, Any, T]:
    """A task of an eval run (``thinktank.eval_task``): ``run`` ends in its ``TaskRecord``."""
    impl = _impl
    if impl is None:
        return run
    return impl.eval_task(run, job)


def served(
    run: Coroutine[Any, Any, T], model: str, response_id: str, headers: Mapping[str, str]
) -> Coroutine[Any, Any, T]:
    """A request to ``thinktank serve`` (a server ``chat`` span, continuing the client's
    trace when ``headers`` carry a W3C ``traceparent``): ``run`` ends in its ``RunResult``."""
    impl = _impl
    if impl is None:
        return run
    return impl.served(run, model, response_id, headers)
