"""Generation and scoring on a loaded model (no litellm here: usable directly, e.g. by the benchmark)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmdsl.errors import ContextWindowExceeded, LMError
from lmdsl.lm.local.grammar import _compiled_grammar
from lmdsl.lm.local.runtime import N_CTX_ENV, _LoadedModel, load_model

DEFAULT_MAX_TOKENS = 512
_DEFAULT_TEMPERATURE = 0.2  # llama-cpp-python's chat default
_DEFAULT_TOP_P = 0.95


@dataclass(frozen=True)
class LocalChoice:
    text: str
    finish_reason: str


@dataclass(frozen=True)
class LocalCompletion:
    """What one call produced; token counts come from llama.cpp's tokenizer."""

    choices: tuple[LocalChoice, ...]
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def generate(
    model_name: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    grammar: str | None = None,
    n: int | None = None,
    on_text: Callable[[str], object] | None = None,
) -> LocalCompletion:
    """Chat completion on the local model ``model_name`` (``smollm2`` or a GGUF path).

    ``n`` samples are drawn one after another (choice *i* with ``seed + i``); only the first
    evaluates the prompt, the others hit the KV cache. Usage counts the prompt once, as
    OpenAI does for ``n > 1``. ``on_text`` receives the first choice's text piece by piece as
    llama.cpp writes it (streaming; the lock is held until the reply is complete).
    """
    model = load_model(model_name)
    count = 1 if n is None else int(n)
    if count < 1:
        raise LMError(f"n must be >= 1, got {n}")
    rendered = model.formatter(messages=_plain_messages(messages))
    with model.lock:
        prompt = model.llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        budget = _completion_budget(model_name, len(prompt), model.n_ctx, max_tokens)
        stops = [*_as_list(stop), *rendered.stop]
        compiled = _compiled_grammar(grammar, model.llama._model.vocab) if grammar else None
        choices: list[LocalChoice] = []
        completion_tokens = 0
        for i in range(count):
            result = _sample(
                model, model_name, prompt, budget, stops, rendered.stopping_criteria, compiled,
                temperature=_DEFAULT_TEMPERATURE if temperature is None else float(temperature),
                top_p=_DEFAULT_TOP_P if top_p is None else float(top_p),
                seed=None if seed is None else int(seed) + i,
                on_text=on_text if i == 0 else None,
            )
            choice = result["choices"][0]
            choices.append(LocalChoice(text=choice["text"], finish_reason=choice["finish_reason"] or "stop"))
            completion_tokens += result["usage"]["completion_tokens"]
    return LocalCompletion(tuple(choices), prompt_tokens=len(prompt), completion_tokens=completion_tokens)


@dataclass(frozen=True)
class LocalScores:
    """Log-likelihood of each candidate reply, and the tokens evaluated to get them."""

    scores: tuple[float, ...]
    prompt_tokens: int
    completion_tokens: int


def score_replies(model_name: str, messages: Sequence[Mapping[str, Any]], replies: Sequence[str]) -> LocalScores:
    """Sum of token log-probabilities of each reply as the assistant's answer to ``messages``.

    The prompt is evaluated once (reusing the KV cache of a shared prefix, as generation
    does); each reply then costs one single-token evaluation per token, so scoring a
    handful of short labels costs about as much as generating one.
    """
    import numpy as np

    model = load_model(model_name)
    rendered = model.formatter(messages=_plain_messages(messages))
    llama = model.llama
    with model.lock:
        prompt = llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
        encoded = [llama.tokenize(r.encode("utf-8"), add_bos=False, special=False) for r in replies]
        longest = max((len(t) for t in encoded), default=0)
        if len(prompt) + longest > model.n_ctx:
            raise _overflow(model_name, len(prompt), model.n_ctx, longest)
        try:
            _eval_prompt(llama, prompt)
            first = _log_softmax(np, _last_logits(np, llama))
            scores = []
            for tokens in encoded:
                llama.n_tokens = len(prompt)
                logprobs, total = first, 0.0
                for j, token in enumerate(tokens):
                    total += float(logprobs[token])
                    if j + 1 < len(tokens):
                        llama.eval([token])
                        logprobs = _log_softmax(np, _last_logits(np, llama))
                scores.append(total)
        except (RuntimeError, ValueError) as exc:
            raise LMError(f"local/{model_name} failed to score replies: {exc}") from exc
    return LocalScores(tuple(scores), prompt_tokens=len(prompt), completion_tokens=sum(len(t) for t in encoded))


def _eval_prompt(llama: Any, prompt: list[int]) -> None:
    """Evaluate ``prompt``, skipping the prefix already in the KV cache (at least one token is
    evaluated: the logits of the last position are needed)."""
    shared = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), prompt[:-1])
    llama.n_tokens = shared
    llama.eval(prompt[shared:])


def _last_logits(np: Any, llama: Any) -> Any:
    return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))


def _log_softmax(np: Any, logits: Any) -> Any:
    shifted = logits.astype(np.float64) - float(logits.max())
    return shifted - np.log(np.exp(shifted).sum())


def _sample(model: _LoadedModel, model_name: str, prompt: list[int], budget: int, stops: list[str],
            stopping_criteria: Any, grammar: Any, on_text: Callable[[str], object] | None = None,
            **sampling: Any) -> dict[str, Any]:
    """One completion; the caller holds ``model.lock``.

    ``create_completion`` with a token prompt reuses the KV cache of the longest prefix
    shared with the previous call on this instance (``Llama.generate``'s default).
    """
    try:
        result = model.llama.create_completion(
            prompt=prompt,
            max_tokens=budget,
            stop=stops,
            stopping_criteria=stopping_criteria,
            grammar=grammar,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            stream=on_text is not None,
            **sampling,
        )
        return result if on_text is None else _collect_stream(result, on_text)
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise _overflow(model_name, len(prompt), model.n_ctx, budget) from exc
        raise LMError(f"local/{model_name} failed: {exc}") from exc


def _collect_stream(chunks: Any, on_text: Callable[[str], object]) -> dict[str, Any]:
    """Pass each streamed piece to ``on_text``; return what a non-streamed call would (one chunk per token)."""
    parts: list[str] = []
    finish_reason, tokens = None, 0
    for chunk in chunks:
        choice = chunk["choices"][0]
        tokens += 1 if choice.get("text") or not choice.get("finish_reason") else 0  # the last chunk only ends
        if choice.get("text"):
            parts.append(choice["text"])
            on_text(choice["text"])
        finish_reason = choice.get("finish_reason") or finish_reason
    return {"choices": [{"text": "".join(parts), "finish_reason": finish_reason}],
            "usage": {"completion_tokens": tokens}}


def _completion_budget(model_name: str, prompt_tokens: int, n_ctx: int, max_tokens: int | None) -> int:
    """How many tokens may be generated; raises if the prompt (plus an explicit ``max_tokens``) overflows.

    An explicit ``max_tokens`` that does not fit is an error rather than a silent cut (what
    llama.cpp would do): a truncated answer would surface later as a baffling parse error.
    """
    if max_tokens is not None and int(max_tokens) < 1:
        raise LMError(f"max_tokens must be >= 1, got {max_tokens}")
    wanted = DEFAULT_MAX_TOKENS if max_tokens is None else int(max_tokens)
    room = n_ctx - prompt_tokens
    if room < 1 or (max_tokens is not None and wanted > room):
        raise _overflow(model_name, prompt_tokens, n_ctx, wanted if max_tokens is not None else None)
    return min(wanted, room)


def _overflow(model_name: str, prompt_tokens: int, n_ctx: int, max_tokens: int | None) -> ContextWindowExceeded:
    more = f" (max_tokens {max_tokens} more)" if max_tokens is not None else ""
    return ContextWindowExceeded(
        f"prompt is {prompt_tokens} tokens but local/{model_name}'s context window is {n_ctx}{more}; "
        f"shorten the prompt (fewer demos or shorter inputs) or raise {N_CTX_ENV}",
        prompt_tokens=prompt_tokens,
        context_size=n_ctx,
    )


def _as_list(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop if s]


def _plain_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Messages with string content: chat templates cannot render OpenAI's content-part lists."""
    plain = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                part.get("text", "") if isinstance(part, Mapping) else str(part) for part in content
            )
        plain.append({"role": str(message.get("role", "user")), "content": "" if content is None else str(content)})
    return plain
