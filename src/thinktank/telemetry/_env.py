"""What the standard ``OTEL_*`` variables ask of thinktank's tracing (no OpenTelemetry
import here: the CLI reads them on every start)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from thinktank.errors import ConfigError

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' switch for message content (prompts, replies, tool
arguments and results): unset, ``false`` or ``NO_CONTENT`` keep it out of traces."""

_CAPTURE_VALUES = {
    "": (False, False),
    "false": (False, False),
    "0": (False, False),
    "no_content": (False, False),
    "true": (True, False),
    "1": (True, False),
    "span_only": (True, False),
    "event_only": (False, True),
    "span_and_event": (True, True),
}

EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(frozen=True)
class ContentCapture:
    """Where message content goes: span attributes, span events, both or neither."""

    spans: bool = False
    events: bool = False

    @property
    def on(self) -> bool:
        return self.spans or self.events

    @classmethod
    def of(cls, value: ContentCapture | bool) -> ContentCapture:
        return value if isinstance(value, ContentCapture) else cls(spans=bool(value))


def content_capture(env: Mapping[str, str] | None = None) -> ContentCapture:
    """The content setting of :data:`CAPTURE_CONTENT_ENV` (values as the GenAI
    instrumentations take them: ``true``/``false``, or ``SPAN_ONLY``, ``EVENT_ONLY``,
    ``SPAN_AND_EVENT``, ``NO_CONTENT``; any case)."""
    raw = (os.environ if env is None else env).get(CAPTURE_CONTENT_ENV, "").strip().lower()
    if raw not in _CAPTURE_VALUES:
        accepted = "true, false, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT or NO_CONTENT"
        raise ConfigError(f"{CAPTURE_CONTENT_ENV}={raw!r} is not understood; use {accepted}")
    spans, events = _CAPTURE_VALUES[raw]
    return ContentCapture(spans=spans, events=events)


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def exporters(env: Mapping[str, str] | None = None) -> list[str]:
    """The trace exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``)."""
    raw = (os.environ if env is None else env).get("OTEL_TRACES_EXPORTER", "") or "otlp"
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}: thinktank exports traces "
            f"with {', '.join(EXPORTERS)}"
        )
    return [n for n in names if n != "none"]


def otlp_protocol(env: Mapping[str, str] | None = None) -> str:
    """The OTLP protocol for traces: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, else
    ``OTEL_EXPORTER_OTLP_PROTOCOL``, else ``http/protobuf`` (the specification's default)."""
    e = os.environ if env is None else env
    raw = (
        e.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or e.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip().lower() or "http/protobuf"
    if raw not in PROTOCOLS:
        hint = " (the Python exporters have no http/json)" if raw == "http/json" else ""
        raise ConfigError(
            f"OTLP protocol {raw!r} is not supported{hint}; set OTEL_EXPORTER_OTLP_PROTOCOL "
            f"to {' or '.join(PROTOCOLS)}"
        )
    return raw


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    """True when the variables ask an application for traces: ``OTEL_TRACES_EXPORTER``
    names an exporter other than ``none``, or (with it unset) ``OTEL_EXPORTER_OTLP_ENDPOINT``
    or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; never with ``OTEL_SDK_DISABLED=true``."""
    e = os.environ if env is None else env
    if _true(e.get("OTEL_SDK_DISABLED")):
        return False
    named = e.get("OTEL_TRACES_EXPORTER", "").strip()
    if named:
        return any(n.strip().lower() not in ("", "none") for n in named.split(","))
    return bool(
        e.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or e.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def destination(env: Mapping[str, str] | None = None) -> str:
    """Where the variables send spans, in words (for the CLI's one line about it)."""
    e = os.environ if env is None else env
    out = []
    for name in exporters(e):
        if name == "console":
            out.append("the console (stdout)")
            continue
        protocol = otlp_protocol(e)
        endpoint = e.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if not endpoint:
            base = e.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
            if protocol == "grpc":
                endpoint = base or "http://localhost:4317"
            else:
                endpoint = (base or "http://localhost:4318").rstrip("/") + "/v1/traces"
        out.append(f"OTLP {protocol} at {endpoint}")
    return " and ".join(out) or "nowhere (OTEL_TRACES_EXPORTER=none)"
