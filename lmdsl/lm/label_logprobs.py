"""Reading a label from a reply's top log-probabilities, for providers that cannot constrain replies.

A small served model asked for a label without a grammar often answers in a sentence, or echoes
the first label the prompt lists. Where the provider returns ``top_logprobs`` (OpenAI, vLLM,
llama.cpp servers), the label can still be read the way a grammar would pick it: at the first
position where the model considered beginning one of the labels, the label with the most
probability mass among the alternatives there. Measured on 100 SST-2 *train* sentences served
by llama.cpp (SmolLM2-135M, no constraint): reading the reply's text 18 % (76 unreadable);
reading the log-probabilities 68 % (6 unreadable), against the label listed first 52 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# OpenAI's maximum; vLLM's default max_logprobs; llama.cpp servers take more.
TOP_LOGPROBS = 20
# A one-letter token ("A", "n") begins too many words to count as the start of a label.
_MIN_TOKEN_CHARS = 2

Alternatives = list[list[tuple[str, float]]]  # per reply position: (token, logprob) candidates


def alternatives(choice: Any) -> Alternatives | None:
    """The top alternatives at each position of one response choice, or None if it has none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if content is None and isinstance(getattr(choice, "logprobs", None), dict):
        content = choice.logprobs.get("content")
    if not content:
        return None
    positions: Alternatives = []
    for token in content:
        top = _get(token, "top_logprobs") or []
        candidates = [(str(_get(alt, "token") or ""), float(_get(alt, "logprob") or -math.inf)) for alt in top]
        if not candidates:
            candidates = [(str(_get(token, "token") or ""), float(_get(token, "logprob") or -math.inf))]
        positions.append(candidates)
    return positions


def read_label(positions: Alternatives | None, choices: Sequence[str]) -> str | None:
    """The choice the model favoured where it first considered beginning one, or None."""
    if not positions or not choices:
        return None
    lowered = [c.lower() for c in choices]
    for candidates in positions:
        mass = [0.0] * len(choices)
        for token, logprob in candidates:
            text = token.strip().lower()
            if len(text) < _MIN_TOKEN_CHARS and text not in lowered:
                continue
            hits = [i for i, c in enumerate(lowered) if c.startswith(text)]
            if len(hits) == 1:
                mass[hits[0]] += math.exp(logprob)
        if any(mass):
            return choices[max(range(len(choices)), key=mass.__getitem__)]  # the first wins a tie
    return None


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def reply_logprob(content: Sequence[Any], reply: str) -> float:
    """The summed log-probability of the tokens that spell ``reply``, from a forced reply's
    ``logprobs.content``. What follows the reply is no part of it: llama.cpp's ``llama-server``
    also lists the end-of-turn token it stopped on (text ``""``, log-probability -3 to -6 here,
    which turned TREC label rankings), ``llama_cpp.server`` does not."""
    total, written = 0.0, ""
    for token in content:
        if len(written) >= len(reply):
            break
        total += float(_get(token, "logprob"))
        written += str(_get(token, "token") or "")
    return total
