"""A tracer provider built from the ``OTEL_*`` variables: resource, sampler, batch span
processor and the exporters they name (OTLP over HTTP or gRPC, or the console)."""

from __future__ import annotations

import importlib.util
from typing import Any

from thinktank.errors import MissingDependency
from thinktank.telemetry._env import exporters, otlp_protocol

_EXTRA = "install the otel extra: pip install 'thinktank[otel]'"


def build_provider(service_name: str) -> Any:
    """A tracer provider exporting as the variables say (its sampler from
    ``OTEL_TRACES_SAMPLER``, its batching from ``OTEL_BSP_*``, its endpoint, headers,
    timeout and compression from ``OTEL_EXPORTER_OTLP_*``: the SDK reads them). For
    OTLP alone, a :class:`~thinktank.telemetry._pipe.PipeProvider` (spans as plain data
    to the exporting process); else an SDK ``TracerProvider``."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import Tracer as SDKTracer
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise MissingDependency(f"tracing needs the OpenTelemetry SDK: {_EXTRA}") from exc
    names = exporters()
    resource = Resource.create({})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name it when set; else thinktank
        resource = resource.merge(Resource({"service.name": service_name}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=names != ["otlp"])
    if names == ["otlp"] and provider.get_tracer("thinktank").__class__ is SDKTracer:
        # OTLP alone (and the SDK not disabled): thinktank's spans go straight to the
        # exporting process as plain data (see _pipe), the SDK's sampler deciding
        from thinktank.telemetry._pipe import PipeProvider

        check_exporter(otlp_protocol())
        return PipeProvider(resource, provider.sampler)
    for name in names:
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            # OTLP encoding runs in a process of its own (see _sidecar); it needs the
            # exporter there, so a missing one is said here, before anything starts
            from thinktank.telemetry._sidecar import ProcessExporter

            check_exporter(otlp_protocol())
            provider.add_span_processor(BatchSpanProcessor(ProcessExporter()))
    return provider


def otlp_exporter() -> Any:
    """The OTLP span exporter of the configured protocol (it reads its endpoint, headers,
    timeout, compression and certificates from the variables itself)."""
    return exporter_class(otlp_protocol())()


_MODULES = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http.trace_exporter",
}


def check_exporter(protocol: str) -> None:
    """Raise :class:`MissingDependency` when the exporter of ``protocol`` is not installed
    (without importing it: the exporting process does)."""
    try:
        found = importlib.util.find_spec(_MODULES[protocol]) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise MissingDependency(f"OTLP over {protocol} needs its exporter: {_EXTRA}")


def exporter_class(protocol: str) -> Any:
    """The official OTLP span exporter class for ``protocol``."""
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
    except ImportError as exc:
        raise MissingDependency(f"OTLP over {protocol} needs its exporter: {_EXTRA}") from exc
    return OTLPSpanExporter
