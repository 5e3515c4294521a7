"""A span exporter writing one span per line to a file or stderr (imported only when tracing is on)."""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class LineExporter(SpanExporter):
    """One span per line: OpenTelemetry's JSON form (a file) or a short human line (console)."""

    def __init__(self, stream: TextIO, *, compact: bool, owned: bool = False):
        self.stream = stream
        self.compact = compact
        self.owned = owned
        self._lock = threading.Lock()

    def export(self, spans: Any) -> Any:
        lines = [(_short_line(s) if self.compact else s.to_json(indent=None)) + "\n" for s in spans]
        with self._lock:
            if self.stream.closed:
                return SpanExportResult.FAILURE
            self.stream.writelines(lines)
            self.stream.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self.owned and not self.stream.closed:
                self.stream.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if not self.stream.closed:
                self.stream.flush()
        return True


_SHOWN = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "lmdsl.cache_hit", "lmdsl.constraint",
          "lmdsl.attempt", "lmdsl.retries", "lmdsl.lm_calls", "lmdsl.reasks", "lmdsl.cost", "error.type")


def _short_line(span: Any) -> str:
    ms = (span.end_time - span.start_time) / 1e6 if span.end_time and span.start_time else 0.0
    attrs = span.attributes or {}
    shown = " ".join(f"{k.rsplit('.', 1)[-1]}={json.dumps(attrs[k])}" for k in _SHOWN if k in attrs)
    return f"[trace {span.context.trace_id:032x}] {span.name} {ms:.1f} ms {shown}".rstrip()
