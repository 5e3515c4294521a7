"""Built-in LM providers: the embedded local model, and what lmdsl knows of litellm's served providers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lmdsl.hookspecs import hookimpl
from lmdsl.lm.providers import Provider


def _install_local() -> None:
    from lmdsl.lm.local import install_local_provider

    install_local_provider()


def _score_local(model_name: str, messages: Sequence[Mapping[str, Any]],
                 replies: Sequence[str]) -> tuple[Sequence[float], int, int]:
    from lmdsl.lm.local import score_replies

    result = score_replies(model_name, messages, replies)
    return result.scores, result.prompt_tokens, result.completion_tokens


@hookimpl
def lmdsl_register_lms(register):
    register("local", Provider(install=_install_local, constrain="gbnf", in_process=True,
                               score=_score_local, serialise=True))
    # litellm's own providers for servers whose constraint fields lmdsl knows.
    register("hosted_vllm", Provider(constrain="vllm"))
    register("ollama", Provider(constrain="ollama"))
    register("ollama_chat", Provider(constrain="ollama"))
