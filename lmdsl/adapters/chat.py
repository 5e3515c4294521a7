"""The default adapter: ``Label: value`` lines, parsed leniently, with a decoding grammar.

Small models copy a plain ``Sentiment: positive`` layout far more reliably than bracketed
markers, and the same layout gives llama.cpp a grammar that makes every reply parseable.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, get_args

from lmdsl.adapters.base import Adapter, missing_fields_error
from lmdsl.signatures import Signature
from lmdsl.values import describe_type
from lmdsl.values.introspect import is_enum, is_literal, literal_choices
from lmdsl.values.render import render_output_value


def _marker_pattern(name: str) -> str:
    words = [re.escape(w) for w in name.split("_") if w]
    name = r"[\s_]*".join(words)
    # "**Answer:**" as well as "**Answer**:" -- small models bold their labels either way.
    return r"[*_#>`\s]*" + name + r"[*_`]*\s*[:：][*_`]*"


@functools.lru_cache(maxsize=1024)
def marker_regexes(name: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(at a line start, anywhere after a non-word char, anywhere) -- compiled once per field name."""
    pat = _marker_pattern(name)
    return re.compile(r"(?im)^" + pat), re.compile(r"(?i)(?<![\w])" + pat), re.compile(r"(?i)" + pat)


class ChatAdapter(Adapter):
    name = "chat"

    def format_instructions(self, signature: Signature) -> str:
        return "Reply in exactly this format:\n" + self.template(signature)

    def template(self, signature: Signature) -> str:
        lines = []
        for f in signature.outputs.values():
            hint = describe_type(f.type) or (f.desc if f.desc and len(f.desc) < 60 else f.name.replace("_", " "))
            lines.append(f"{f.label}: <{hint}>")
        return "\n".join(lines)

    def render_reply(self, signature: Signature | None, outputs: Mapping[str, Any]) -> str:
        lines = []
        if signature is not None:
            order = list(signature.outputs)
            outputs = dict(sorted(outputs.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
        for name, value in outputs.items():
            label = signature.outputs[name].label if signature and name in signature.outputs else _label(name)
            text = render_output_value(value)
            lines.append(f"{label}: {text}")
        return "\n".join(lines)

    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        fields = list(signature.outputs.values())
        if len(fields) == 1:
            return {fields[0].name: self.parse_field(signature, fields[0].name, _strip_marker(fields[0], text))}
        spans = self._locate(fields, text)
        located = {n: s for n, s in spans.items() if s is not None}
        found = list(located)
        missing = [f.name for f in fields if spans[f.name] is None]
        if missing:
            first_found = min((located[n][0] for n in found), default=None)
            leading_free = all(
                signature.outputs[m].type is str and _index(fields, m) < _index(fields, found[0]) for m in missing
            ) if found else False
            if not leading_free or first_found is None:
                raise missing_fields_error(signature, missing, text)
            # A model that skips the first label ("reasoning") still wrote that text first.
            for m in missing:
                located[m] = (0, 0)
        ordered = sorted((located[f.name][1], f.name, located[f.name][0]) for f in fields)
        values: dict[str, Any] = {}
        for i, (start, name, _) in enumerate(ordered):
            end = ordered[i + 1][2] if i + 1 < len(ordered) else len(text)
            if name in missing:
                end = min(located[n][0] for n in found)
            values[name] = self.parse_field(signature, name, text[start:end].strip())
        return {f.name: values[f.name] for f in fields}

    @staticmethod
    def _locate(fields: list[Any], text: str) -> dict[str, tuple[int, int] | None]:
        """(marker start, value start) of each field, searching in field order.

        A marker at the start of a line wins; one in the middle of a line is accepted too.
        """
        spans: dict[str, tuple[int, int] | None] = {}
        cursor = 0
        for f in fields:
            at_line_start, anywhere, _ = marker_regexes(marker_key(f))
            m = at_line_start.search(text, cursor) or anywhere.search(text, cursor)
            if m:
                spans[f.name] = (m.start(), m.end())
                cursor = m.end()
            else:
                spans[f.name] = None
        return spans

    def for_replies(self, json_replies: bool) -> Adapter:
        return _json_adapter() if json_replies else self

    def grammar(self, signature: Signature) -> str | None:
        rules = []
        parts = []
        fields = list(signature.outputs.values())
        for i, f in enumerate(fields):
            value_rule = _value_rule(f.type, last=i == len(fields) - 1)
            if value_rule is None:
                return None
            rule_name = f"v{i}"
            rules.append(f"{rule_name} ::= {value_rule}")
            prefix = json.dumps(f"{f.label}: ")
            parts.append(f"{prefix} {rule_name}")
        root = ' "\\n" '.join(parts)
        return "\n".join([f"root ::= {root}", *rules])


# Characters a free-text field other than the last may use. Unbounded, a small model can
# write one reasoning line until max_tokens and never reach the later fields; 400 characters
# (about 100 tokens) leaves room for them within the default 256. The last field needs no cap:
# it ends the reply, and max_tokens ends it at worst.
FREE_TEXT_CAP = 400


def _value_rule(tp: Any, last: bool = True) -> str | None:
    if tp is str:
        return "[^\\n]+" if last else f"[^\\n]{{1,{FREE_TEXT_CAP}}}"
    if is_literal(tp) or is_enum(tp):
        return "(" + " | ".join(json.dumps(str(c)) for c in literal_choices(tp)) + ")"
    # Bounded digit runs: with ``[0-9]+`` a small model can keep emitting digits
    # ("1.1111111...") until max_tokens, which costs a full generation budget per call.
    if tp is int:
        return '"-"? [0-9]{1,15}'
    if tp is float:
        return '"-"? [0-9]{1,15} ("." [0-9]{1,6})?'
    if tp is bool:
        return '("yes" | "no")'
    if get_args(tp) and type(None) in get_args(tp):
        inner = [a for a in get_args(tp) if a is not type(None)]
        rule = _value_rule(inner[0], last) if len(inner) == 1 else None
        return f'({rule} | "None")' if rule else None
    return None


def marker_key(field: Any) -> str:
    """What the reply's marker spells: the field name, or its words from a ``prefix=`` label."""
    return field.label.replace(" ", "_") if getattr(field, "prefix", "") else field.name


@functools.cache
def _json_adapter() -> Adapter:
    from lmdsl.adapters.json_adapter import JSONAdapter  # a sibling that imports this module's base

    return JSONAdapter()


def _label(name: str) -> str:
    return " ".join(w.capitalize() for w in name.split("_"))


def _index(fields: list[Any], name: str) -> int:
    return next(i for i, f in enumerate(fields) if f.name == name)


def _strip_marker(field: Any, text: str) -> str:
    m = marker_regexes(marker_key(field))[2].search(text)
    return text[m.end() :].strip() if m else text
