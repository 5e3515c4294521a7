"""Render chat rows with the model's own chat template and label only the assistant tokens.

The template is rendered as text at every assistant boundary; a token is learned when it
starts inside an assistant span (the reply, its end-of-turn token and what the template puts
after it). Working on character offsets rather than on separately tokenized prefixes keeps
the labels right even when a tokenizer merges characters across a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmdsl_lora.dataset import Message
from lmdsl_lora.errors import DatasetError

IGNORE = -100  # the label value torch's cross-entropy skips


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


def assistant_spans(tokenizer: Any, messages: list[Message]) -> tuple[str, list[tuple[int, int]]]:
    """The full rendered text and the character spans to learn (assistant turns with weight 1)."""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = _render(tokenizer, plain, generation_prompt=False)
    spans = []
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant" or not msg.get("weight", 1):
            continue
        before = _render(tokenizer, plain[:i], generation_prompt=True)
        upto = _render(tokenizer, plain[: i + 1], generation_prompt=False)
        if not text.startswith(upto) or not upto.startswith(before):
            raise DatasetError(
                "the tokenizer's chat template does not render conversations as prefixes of each other; "
                "cannot tell which tokens are the assistant's"
            )
        spans.append((len(before), len(upto)))
    return text, spans


def encode(tokenizer: Any, messages: list[Message]) -> Encoded:
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [
        tok if any(lo <= start < hi for lo, hi in spans) else IGNORE
        for tok, (start, _end) in zip(enc["input_ids"], enc["offset_mapping"])
    ]
    return Encoded(list(enc["input_ids"]), labels)


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
