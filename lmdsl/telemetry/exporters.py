"""Build a tracer from a target: a JSONL file, ``console``, ``otlp[:URL]``, True (the global
OpenTelemetry provider), or an OpenTelemetry ``SpanExporter`` / ``TracerProvider``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lmdsl.errors import ConfigError

INSTALL_HINT = "tracing needs OpenTelemetry's SDK: pip install 'lmdsl[trace]'"
TARGETS = "a .jsonl file path, 'console', 'otlp' or 'otlp:URL', True, or an OpenTelemetry SpanExporter"


def _sdk() -> Any:
    try:
        from opentelemetry.sdk import trace as sdk_trace
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    return sdk_trace


def build_tracer(target: Any) -> Any:
    if target is True or target == "otel":  # whatever provider the application set up
        from opentelemetry import trace

        return trace.get_tracer("lmdsl")
    sdk_trace = _sdk()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

    if isinstance(target, sdk_trace.TracerProvider):
        return target.get_tracer("lmdsl")
    if isinstance(target, SpanExporter):
        exporter, batch = target, False
    elif isinstance(target, str | Path):
        exporter, batch = _exporter_for(str(target))
    else:
        raise ConfigError(f"tracing={target!r}: expected {TARGETS}")
    provider = sdk_trace.TracerProvider(resource=Resource.create({"service.name": "lmdsl"}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("lmdsl")
    tracer._lmdsl_provider = provider  # state.flush()/reset() reach it
    return tracer


def _exporter_for(target: str) -> tuple[Any, bool]:
    """(exporter, batch?) for a string target. Only ``otlp`` talks to the network, and only to
    the endpoint the user names (or ``$OTEL_EXPORTER_OTLP_ENDPOINT``, else localhost:4318)."""
    from lmdsl.telemetry.line_exporter import LineExporter

    text = target.strip()
    if text == "console":
        return LineExporter(sys.stderr, compact=True), False
    if text == "otlp" or text.startswith(("otlp:", "otlp=")):
        endpoint = text[5:] or None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ConfigError("tracing=otlp needs the OTLP exporter: pip install 'lmdsl[trace]'") from exc
        if endpoint and endpoint.rstrip("/").count("/") <= 2:  # http://host:port -> its traces path
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint), True
    if text.endswith((".jsonl", ".json", ".ndjson")) or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if path.parent and not path.parent.exists():
            raise ConfigError(f"tracing={target!r}: folder {str(path.parent)!r} does not exist")
        return LineExporter(path.open("w", encoding="utf-8"), compact=False, owned=True), False
    raise ConfigError(f"tracing={target!r}: expected {TARGETS}")
