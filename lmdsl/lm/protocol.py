"""`LanguageModel`: what a predictor calls, named for the type checker.

An :class:`~lmdsl.lm.LM` satisfies it, and so do the wrappers a predictor may hold for the
length of a call (callbacks' ``WatchedLM``, streaming's ``StreamingLM``, the async replay,
``Calibrate``'s memo), which forward everything else to the LM they wrap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lmdsl.lm.lm import Completion


class LanguageModel(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def kwargs(self) -> dict[str, Any]: ...  # the default generation settings

    def copy(self, **overrides: Any) -> LanguageModel: ...  # the same model, some settings changed

    def __call__(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion: ...

    async def acall(self, messages: list[dict[str, Any]], **overrides: Any) -> Completion: ...

    def score(self, messages: list[dict[str, Any]], replies: list[str], **overrides: Any) -> Completion: ...
