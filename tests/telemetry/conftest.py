from __future__ import annotations

import pytest

import lmdsl
from lmdsl import telemetry


@pytest.fixture
def spans():
    """Tracing into an in-memory exporter for the test; ``spans()`` lists the finished spans."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    lmdsl.configure(tracing=exporter)
    yield exporter.get_finished_spans
    telemetry.reset()
