"""A served model (an OpenAI-style endpoint on loopback) through Ray replicas running many rows at once."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import ray_programs as rp

import lmdsl
from lmdsl.evaluate import Evaluate
from lmdsl.executors import RayExecutor


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.inflight = 0
        self.peak = 0
        self.keys: set[str] = set()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.inflight += 1
            self.server.peak = max(self.server.peak, self.server.inflight)
            self.server.keys.add(self.headers.get("Authorization", ""))
        time.sleep(0.3)  # a model that takes a while: only concurrency makes many rows fast
        with self.server.lock:
            self.server.inflight -= 1
        text = body["messages"][-1]["content"]
        reply = "Label: positive" if "good" in text else "Label: negative"
        payload = json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def served():
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_served_model_gets_concurrent_calls_from_one_replica(ray_cluster, served):
    port = served.server_address[1]
    lmdsl.configure(lm=lmdsl.LM("openai/served-model", api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-served",
                                cache=False), display_progress=False)
    executor = RayExecutor(replicas=1, concurrency=4, num_cpus=0.25)
    try:
        result = Evaluate(rp.rows(12), rp.metric, executor=executor)(rp.Mood())
    finally:
        executor.close()
    threads = Evaluate(rp.rows(12), rp.metric)(rp.Mood())
    assert [r.prediction.label for r in result.results] == [r.prediction.label for r in threads.results]
    assert result.usage["lm_calls"] == 12 and result.usage["total_tokens"] == 12 * 12
    assert served.peak >= 3  # one replica, several rows in flight (threads above ran one at a time)
    assert served.keys == {"Bearer sk-served"}
