"""A loopback HTTP server that records the JSON bodies lmdsl (through litellm) sends, and answers
like an OpenAI-compatible or Ollama server. It checks request shapes, not providers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    def __init__(self, reply: str = "ok", owned_by: str = "someone", reject: tuple[str, ...] = (),
                 logprobs: list[list[tuple[str, float]]] | None = None):
        self.reply = reply
        self.logprobs = logprobs  # per position (token, logprob) alternatives, sent when a body asks for logprobs
        self.owned_by = owned_by
        self.reject = reject  # body keys that earn an HTTP 400, as a server that does not know them
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": "m", "object": "model", "owned_by": recorder.owned_by}]})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                recorder.paths.append(self.path)
                recorder.bodies.append(body)
                recorder.headers.append(dict(self.headers))
                rejected = [k for k in recorder.reject if k in body]
                if rejected:
                    self._send(400, {"error": {"message": f"unknown field {rejected[0]!r}", "type": "invalid_request"}})
                    return
                if self.path.startswith("/api/"):  # Ollama's native API
                    self._send(200, {"model": body.get("model"), "created_at": "2026-01-01T00:00:00Z",
                                     "message": {"role": "assistant", "content": recorder.reply},
                                     "done": True, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 2})
                    return
                choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": recorder.reply}}
                if body.get("logprobs") and recorder.logprobs is not None:
                    choice["logprobs"] = {"content": [
                        {"token": alts[0][0], "logprob": alts[0][1], "bytes": None,
                         "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in alts]}
                        for alts in recorder.logprobs]}
                self._send(200, {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                    "choices": [choice],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
