"""--trace otlp:URL sends spans over OTLP/HTTP to the collector the user names (a loopback one here)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import lmdsl
from lmdsl import telemetry

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_spans_reach_an_otlp_collector(scripted):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scripted(lambda inputs: {"answer": "Paris"})
        lmdsl.configure(tracing=f"otlp:http://127.0.0.1:{server.server_port}")
        lmdsl.Predict("question -> answer")(question="Capital of France?")
        telemetry.flush()  # batched: the CLI flushes before it exits
    finally:
        telemetry.reset()
        server.shutdown()
        server.server_close()
    assert Collector.received, "nothing reached the collector"
    path, content_type, body = Collector.received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    names = {s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert "lm scripted/lm" in names and any(n.startswith("predict ") for n in names)
    service = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert service["service.name"] == "lmdsl"
