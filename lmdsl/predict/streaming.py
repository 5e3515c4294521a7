"""``lmdsl.stream(program)(**inputs)``: output fields as the LM writes them, then the Prediction.

    for item in lmdsl.stream(program)(question="..."):
        if isinstance(item, lmdsl.StreamChunk):
            print(item.field, item.text)           # e.g. "answer", "Par" ... "is"
        else:
            prediction = item                      # the last item

    async for item in lmdsl.stream(program)(question="..."):   # the same from async code
        ...

Every predictor call made while the program runs streams its reply (hosted models through
litellm's streaming, the embedded model through llama.cpp's; see :mod:`lmdsl.lm.streaming`).
The reply's text is split into output fields by their markers (``Answer: ...``, as the
ChatAdapter writes them) and each piece becomes a :class:`StreamChunk`; ``fields=`` keeps
only some fields. A JSON reply (JSONAdapter) is split once complete: one chunk per field.
A cached reply streams as one piece. A reply that fails to parse is re-asked, and the
new reply streams too, so a consumer that shows text should start a field over when a
chunk of an earlier field follows a later one. Sync iteration runs the program in one
worker thread; async iteration runs ``program.acall`` as a task on the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lmdsl.adapters import Adapter
from lmdsl.adapters.chat import ChatAdapter, marker_key, marker_regexes
from lmdsl.lm.protocol import LanguageModel
from lmdsl.lm.streaming import astreamed_call, streamed_call
from lmdsl.program.predictor import Predictor
from lmdsl.signatures import Signature


@dataclass(frozen=True)
class StreamChunk:
    """A piece of one output field: ``predictor`` is its path in the program (``"generate"``;
    ``"self"`` when the program is the predictor), ``field`` the output field's name."""

    predictor: str
    field: str
    text: str


class _Sink:
    def __init__(self, emit: Callable[[StreamChunk], object], names: dict[int, str], fields: set[str] | None):
        self.emit = emit
        self.names = names
        self.fields = fields

    def send(self, predictor: Predictor, field: str, text: str) -> None:
        if text and (self.fields is None or field in self.fields):
            name = self.names.get(id(predictor)) or predictor.signature.name
            self.emit(StreamChunk(name, field, text))


_sink: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar("lmdsl_stream_sink", default=None)


# ---- splitting a reply into fields --------------------------------------------------------
class FieldSplitter:
    """Turns the growing text of one reply into per-field pieces, as it arrives.

    The text after ``Label:`` at a line start belongs to that field. The open field's last
    few characters are held back until more text arrives, since they may be the start of
    the next field's marker; text before the first marker belongs to the first field (a
    model that skipped the label, as the ChatAdapter's parser also assumes).
    """

    def __init__(self, signature: Any, adapter: Any, send: Callable[[str, str], None]):
        self.signature = signature
        self.adapter = adapter
        self.send = send
        self.fields = list(signature.outputs.values())
        self.text = ""
        self.sent: dict[str, int] = {f.name: 0 for f in self.fields}
        self.incremental = isinstance(adapter, ChatAdapter) and not getattr(adapter, "json_replies", False)
        self.hold = max(len(f.label) for f in self.fields) + 6

    def feed(self, delta: str) -> None:
        if delta:
            self.text += delta
            if self.incremental:
                self._flush(final=False)

    def close(self) -> None:
        if self.incremental:
            self._flush(final=True)
            return
        try:  # a JSON reply: fields are known once the whole object is there
            values = self.adapter.parse(self.signature, self.text)
        except Exception:
            return  # the predictor re-asks; its next reply streams
        from lmdsl.values.render import render_output_value

        for f in self.fields:
            if f.name in values:
                self.send(f.name, render_output_value(values[f.name]))

    def _segments(self, final: bool) -> list[tuple[str, int, int, bool]]:
        """(field, value start, value end, closed) in reply order."""
        found: list[tuple[str, int, int]] = []  # (field, marker start, value start)
        cursor = 0
        for f in self.fields:
            m = marker_regexes(marker_key(f))[0].search(self.text, cursor)
            if m:
                found.append((f.name, m.start(), m.end()))
                cursor = m.end()
        if not found and not final and len(self.text) < self.hold:
            return []  # may still become the first marker
        segments = []
        first = self.fields[0].name
        lead_end = found[0][1] if found else len(self.text)
        if (not found or found[0][0] != first) and self.text[:lead_end].strip():
            segments.append((first, 0, lead_end, bool(found)))
        for i, (name, _, start) in enumerate(found):
            end = found[i + 1][1] if i + 1 < len(found) else len(self.text)
            segments.append((name, start, end, i + 1 < len(found)))
        return segments

    def _flush(self, final: bool) -> None:
        last = self.fields[-1].name
        for name, start, end, closed in self._segments(final):
            value = self.text[start:end].lstrip()
            if closed or final:
                value = value.rstrip()
            elif name != last:  # open, and a later field's marker may be arriving
                value = value[: max(0, len(value) - self.hold)]
            new = value[self.sent[name]:]
            if new:
                self.send(name, new)
                self.sent[name] = len(value)


# ---- the LM a streaming predictor sees ----------------------------------------------------
class StreamingLM:
    """Wraps the LM of a predictor call made inside ``lmdsl.stream``: calls stream their reply
    into the stream (everything else is the LM's own)."""

    def __init__(self, lm: LanguageModel, predictor: Predictor, signature: Signature, adapter: Adapter, sink: _Sink):
        self._lm = lm
        self._predictor = predictor
        self._signature = signature
        self._adapter = adapter
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lm, name)

    def _splitter(self) -> FieldSplitter:
        return FieldSplitter(self._signature, self._adapter,
                             lambda field, text: self._sink.send(self._predictor, field, text))

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        splitter = self._splitter()
        result = streamed_call(self._lm, messages, params, splitter.feed)
        splitter.close()
        return result

    async def acall(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        splitter = self._splitter()
        result = await astreamed_call(self._lm, messages, params, splitter.feed)
        splitter.close()
        return result


def streamed_lm(lm: LanguageModel, predictor: Predictor, signature: Signature, adapter: Adapter) -> LanguageModel:
    """``lm`` itself outside ``lmdsl.stream`` (one contextvar read), else a :class:`StreamingLM`."""
    sink = _sink.get()
    return lm if sink is None else StreamingLM(lm, predictor, signature, adapter, sink)


# ---- lmdsl.stream -------------------------------------------------------------------------
class _Done:
    def __init__(self, value: Any = None, error: BaseException | None = None):
        self.value = value
        self.error = error


class StreamRun:
    """One streamed run: iterate it (sync or ``async for``) for chunks and then the Prediction."""

    def __init__(self, program: Any, inputs: dict[str, Any], fields: set[str] | None):
        self.program = program
        self.inputs = inputs
        self.fields = fields
        names = program.named_predictors() if hasattr(program, "named_predictors") else []
        self.names = {id(p): path for path, p in names}

    def __iter__(self) -> Iterator[Any]:
        items: queue.Queue[Any] = queue.Queue()
        sink = _Sink(items.put, self.names, self.fields)

        def work() -> None:
            _sink.set(sink)
            try:
                items.put(_Done(self.program(**self.inputs)))
            except BaseException as exc:  # handed to the consumer
                items.put(_Done(error=exc))

        ctx = contextvars.copy_context()
        threading.Thread(target=ctx.run, args=(work,), name="lmdsl-stream", daemon=True).start()
        while True:
            item = items.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                yield item.value
                return
            yield item

    async def __aiter__(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[Any] = asyncio.Queue()
        # Pieces may come from worker threads (the embedded model, a sync-only program).
        sink = _Sink(lambda chunk: loop.call_soon_threadsafe(items.put_nowait, chunk), self.names, self.fields)

        async def work() -> Any:
            _sink.set(sink)  # the task's own context
            if hasattr(self.program, "acall"):
                return await self.program.acall(**self.inputs)
            result = self.program(**self.inputs)
            return await result if asyncio.iscoroutine(result) else result

        task = asyncio.ensure_future(work())
        try:
            while True:
                getter = asyncio.ensure_future(items.get())
                done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                await asyncio.sleep(0)  # let pieces scheduled from threads land in the queue
                while not items.empty():
                    yield items.get_nowait()
                yield task.result()
                return
        finally:
            if not task.done():
                task.cancel()


def stream(program: Any, *, fields: Iterable[str] | None = None) -> Callable[..., StreamRun]:
    """``lmdsl.stream(program)(**inputs)`` -> :class:`StreamRun` (see the module docstring)."""
    wanted = set(fields) if fields is not None else None

    def run(**inputs: Any) -> StreamRun:
        return StreamRun(program, inputs, wanted)

    return run


__all__ = ["FieldSplitter", "StreamChunk", "StreamRun", "stream"]
