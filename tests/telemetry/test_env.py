"""What the OTEL_* variables turn on, and the errors for values thinktank cannot use."""

from __future__ import annotations

import pytest

from thinktank import telemetry
from thinktank.errors import ConfigError
from thinktank.telemetry._env import (
    ContentCapture,
    content_capture,
    exporters,
    otlp_protocol,
    tracing_requested,
)


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
    ],
)
def test_tracing_is_requested_by_the_standard_variables(env: dict[str, str], wanted: bool) -> None:
    assert tracing_requested(env) is wanted


@pytest.mark.parametrize(
    ("value", "spans", "events"),
    [
        ("", False, False),
        ("false", False, False),
        ("NO_CONTENT", False, False),
        ("true", True, False),
        ("True", True, False),
        ("SPAN_ONLY", True, False),
        ("event_only", False, True),
        ("SPAN_AND_EVENT", True, True),
    ],
)
def test_content_capture_values(value: str, spans: bool, events: bool) -> None:
    env = {telemetry.CAPTURE_CONTENT_ENV: value}
    assert content_capture(env) == ContentCapture(spans=spans, events=events)


def test_an_unknown_content_value_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match="SPAN_ONLY"):
        content_capture({telemetry.CAPTURE_CONTENT_ENV: "yes please"})


def test_protocols_and_exporters() -> None:
    assert otlp_protocol({}) == "http/protobuf"
    assert otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "grpc"
    assert (
        otlp_protocol(
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            }
        )
        == "http/protobuf"
    )
    with pytest.raises(ConfigError, match="no http/json"):
        otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert exporters({}) == ["otlp"]
    assert exporters({"OTEL_TRACES_EXPORTER": "otlp,console"}) == ["otlp", "console"]
    assert exporters({"OTEL_TRACES_EXPORTER": "none"}) == []
    with pytest.raises(ConfigError, match="zipkin"):
        exporters({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_configure_from_env_does_nothing_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert telemetry.configure_from_env() is False
    assert not telemetry.enabled()
