"""A loopback HTTP listener that records every request it receives (headers included)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Label: positive"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture
def listener():
    """``listener.url`` (an OpenAI-style base URL on 127.0.0.1) and ``listener.requests``."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            requests.append({"method": "POST", "path": self.path, "body": self.rfile.read(length),
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
            body = json.dumps(REPLY).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # a server probe (GET /v1/models) carries the key just the same
            requests.append({"method": "GET", "path": self.path, "body": b"",
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.requests = requests
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
