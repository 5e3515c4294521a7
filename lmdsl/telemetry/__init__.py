"""Observability: OpenTelemetry spans for program, module, predictor and LM calls and for
optimizer phases, plus a phase log the compile report reads.

Turn tracing on with ``lmdsl.configure(tracing="trace.jsonl")`` (or ``"console"``,
``"otlp"``, ``"otlp:http://collector:4318"``, ``True`` for the application's own
OpenTelemetry provider, or a ``SpanExporter``), ``$LMDSL_TRACE`` or the CLI's ``--trace``.
Prompts, replies, inputs and outputs are recorded only with ``trace_content=True`` /
``$LMDSL_TRACE_CONTENT=1``. Needs ``pip install 'lmdsl[trace]'`` when on; importing this
package never imports OpenTelemetry.
"""

from lmdsl.telemetry.phases import PhaseLog, PhaseRecord, phase, record_phases
from lmdsl.telemetry.spans import counts_retry, traced_call, traced_lm_call
from lmdsl.telemetry.state import flush, record_content, reset, tracer

__all__ = [
    "PhaseLog", "PhaseRecord", "counts_retry", "flush", "phase", "record_content", "record_phases", "reset",
    "traced_call", "traced_lm_call", "tracer",
]
