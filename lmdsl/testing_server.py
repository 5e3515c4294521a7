"""A loopback OpenAI-compatible chat server for tests and benchmarks (no model behind it).

It answers ``POST /v1/chat/completions`` after a fixed delay with a reply in the format the
request's system message asks for (lmdsl's ``Label: <...>`` lines or a JSON object), so a
program runs end to end through litellm exactly as against a hosted API; ``"stream": true``
gets the same reply as server-sent events, a few characters per chunk. ``GET /v1/models``
lists one model. Values: ``42`` for numbers, ``yes`` for booleans, the first choice of a
``a | b`` label list, else ``stub answer N`` (N counts requests).

    with serve(delay=0.05) as base_url:      # a thread with its own event loop
        lm = stub_lm(base_url)               # lmdsl.LM("openai/stub", api_base=base_url, ...)

    python -m lmdsl.testing_server --port 8765 --delay 0.05   # a separate process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

_LINE = re.compile(r"^([A-Z][\w ]*): <(.*)>$")


def reply_for(messages: list[dict[str, Any]], n: int) -> str:
    """The reply the system message's format asks for."""
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    if "Reply with one JSON object" in system:
        shape = json.loads(system.rsplit("like this:\n", 1)[1].strip().splitlines()[0])
        return json.dumps({k: _value(str(v).strip("<>"), n) for k, v in shape.items()})
    lines = [m for m in (_LINE.match(ln.strip()) for ln in system.split("format:", 1)[-1].splitlines()) if m]
    if not lines:
        return f"stub answer {n}"
    return "\n".join(f"{label}: {_value(hint, n)}" for label, hint in (m.groups() for m in lines))


def _value(hint: str, n: int) -> str:
    if "integer" in hint or "number" in hint:
        return "42"
    if "yes or no" in hint:
        return "yes"
    if " or " in hint and '"' in hint:  # one of "a", "b" or "c"
        return re.findall(r'"([^"]+)"', hint)[0]
    return f"stub answer {n}"


def _app(delay: float) -> Any:
    from aiohttp import web

    counter = itertools.count(1)

    async def models(_request: Any) -> Any:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model",
                                                              "owned_by": "lmdsl-testing-server"}]})

    async def chat(request: Any) -> Any:
        body = await request.json()
        n = next(counter)
        text = reply_for(body.get("messages", []), n)
        await asyncio.sleep(delay)
        base = {"id": f"chatcmpl-{n}", "created": int(time.time()), "model": body.get("model", "stub")}
        usage = {"prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])),
                 "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            return web.json_response({**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
        for i, piece in enumerate(pieces):
            delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        last = {**base, "object": "chat.completion.chunk", "usage": usage,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(delay: float = 0.0, port: int | None = None) -> Iterator[str]:
    """Run the server on a background thread; yields its ``api_base`` (``http://127.0.0.1:P/v1``)."""
    from aiohttp import web

    port = port or free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(_app(delay), access_log=None)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=loop.run_forever, name="lmdsl-testing-server", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def stub_lm(api_base: str, **kwargs: Any) -> Any:
    """An ``LM("openai/stub")`` for this server; told not to probe it for a constraint mode."""
    import lmdsl

    try:
        return lmdsl.LM("openai/stub", api_base=api_base, api_key="x", constrain="none", **kwargs)
    except TypeError:  # an LM without constraint modes
        return lmdsl.LM("openai/stub", api_base=api_base, api_key="x", **kwargs)


def main() -> None:
    from aiohttp import web

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each reply")
    args = parser.parse_args()
    web.run_app(_app(args.delay), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
