"""Run a predictor's sync request loop from async code, awaiting each LM call.

``Predict._complete`` owns the re-ask loop (send, parse, re-ask with the error). Rather than
keep an async copy of it in step, :func:`replay_async` runs that same function against a
stand-in LM: the stand-in answers from replies already fetched and, when it has none left,
stops the run (:class:`_NeedReply`) with the request it was given; the request is awaited on
the real LM (``LM.acall``) and the loop runs again from the start with one more reply. Parsing
the earlier replies again costs microseconds; each LM call is made once, without a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lmdsl.lm.protocol import LanguageModel

R = TypeVar("R")


class _NeedReply(BaseException):  # control flow: must pass through any ``except Exception``
    def __init__(self, messages: list[dict[str, Any]], params: dict[str, Any]):
        super().__init__("the replayed LM needs one more reply")
        self.messages = messages
        self.params = params


class _ReplayLM:
    """The real LM's attributes, but calls answered from ``replies`` in order."""

    def __init__(self, lm: LanguageModel, replies: list[Any]):
        self._lm = lm
        self._replies = replies
        self._used = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lm, name)

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        if self._used < len(self._replies):
            reply = self._replies[self._used]
            self._used += 1
            return reply
        raise _NeedReply(messages, params)


async def replay_async(run: Callable[[LanguageModel], R], lm: LanguageModel) -> R:
    """``run(lm)`` with every ``lm(messages, **params)`` inside it awaited as ``lm.acall(...)``."""
    replies: list[Any] = []
    while True:
        try:
            return run(_ReplayLM(lm, replies))
        except _NeedReply as need:
            replies.append(await lm.acall(need.messages, **need.params))
