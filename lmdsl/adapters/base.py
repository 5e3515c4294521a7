"""What every adapter does: signature + demos + inputs -> messages, reply -> typed outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lmdsl.adapters.constraint import Constraint
from lmdsl.errors import ValueParseError
from lmdsl.signatures import Signature
from lmdsl.signatures.history import History, history_fields, is_history
from lmdsl.values import describe_type, is_closed_type, parse_value, render_value

Message = dict[str, str]


class Adapter:
    """Base class. Subclasses choose how outputs are laid out in the reply."""

    name = "base"

    # ---- formatting -------------------------------------------------------------------
    def format(
        self,
        signature: Signature,
        demos: Sequence[Mapping[str, Any]],
        inputs: Mapping[str, Any],
    ) -> list[Message]:
        """The exact chat messages: stable content first (system, demos), variable input last,
        so that provider and llama.cpp prefix caches hit across calls."""
        messages: list[Message] = [{"role": "system", "content": self._system(signature)}]
        for demo in demos:
            messages += self._turn(signature, demo)
        for name in history_fields(signature):  # earlier turns of a conversation (lmdsl.History)
            for turn in getattr(History.coerce(inputs.get(name)), "messages", []):
                messages += self._turn(signature, turn)
        messages.append({"role": "user", "content": self.render_inputs(signature, inputs)})
        return messages

    def _turn(self, signature: Signature, values: Mapping[str, Any]) -> list[Message]:
        """A demo or history turn as a user/assistant pair (nothing when either side is empty)."""
        user = self.render_inputs(signature, values)
        outputs = {k: values[k] for k in signature.outputs if k in values}
        if not user or not outputs:
            return []
        return [{"role": "user", "content": user},
                {"role": "assistant", "content": self.render_reply(signature, outputs)}]

    def _system(self, signature: Signature) -> str:
        # Signatures are immutable values: the system message is computed once per signature.
        cache = self.__dict__.setdefault("_system_cache", {})
        text = cache.get(signature)
        if text is None:
            if len(cache) >= 512:
                cache.clear()
            text = cache[signature] = self.system_message(signature)
        return text

    def system_message(self, signature: Signature) -> str:
        lines = [signature.instructions, ""]
        if signature.inputs:
            lines.append("Inputs:")
            lines += [self._field_line(f, typed=False) for f in signature.inputs.values() if not is_history(f.type)]
        lines.append("Outputs:")
        lines += [self._field_line(f) for f in signature.outputs.values()]
        lines += ["", self.format_instructions(signature)]
        return "\n".join(lines)

    @staticmethod
    def _field_line(field: Any, typed: bool = True) -> str:
        parts = [p for p in (field.desc.rstrip(" .;"), describe_type(field.type) if typed else "") if p]
        return f"- {field.label}" + (": " + "; ".join(parts) if parts else "")

    def render_inputs(self, signature: Signature, values: Mapping[str, Any]) -> str:
        blocks = []
        for name, field in signature.inputs.items():
            if name not in values or (values[name] is None and not field.required) or is_history(field.type):
                continue
            text = field.format(values[name]) if field.format is not None else render_value(values[name])
            sep = "\n" if "\n" in text else " "
            blocks.append(f"{field.label}:{sep}{text}")
        return "\n\n".join(blocks)

    def format_instructions(self, signature: Signature) -> str:
        raise NotImplementedError

    def render_reply(self, signature: Signature | None, outputs: Mapping[str, Any]) -> str:
        """The reply a model should give for these outputs (demos, ScriptedLM)."""
        raise NotImplementedError

    def reask_message(self, signature: Signature, error: Exception) -> str:
        options = self._label_options(signature)
        if options:  # a label: the shortest, strictest request a small model follows best
            return f"I could not read your reply: {error}.\nAnswer with one word: {options}."
        return (
            f"I could not read your reply: {error}.\n"
            f"Answer again, in exactly this format:\n{self.template(signature)}"
        )

    def template(self, signature: Signature) -> str:
        raise NotImplementedError

    @staticmethod
    def _label_options(signature: Signature) -> str | None:
        """"a, b or c" for a signature whose one output is a label, else None."""
        from lmdsl.signatures.labels import label_field, labels

        field = label_field(signature)
        if field is None:
            return None
        texts = [text for text, _ in labels(field)]
        return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]

    def remind(self, signature: Signature, messages: list[Message]) -> list[Message]:
        """For an LM that cannot constrain its reply: the allowed labels repeated at the end of the
        last message, where a small model reads them last (measured on SST-2 train rows served by
        llama.cpp: replies naming a label 6/16 without, 13/16 with)."""
        options = self._label_options(signature)
        if not options or not messages or messages[-1].get("role") != "user":
            return messages
        last = messages[-1]
        return [*messages[:-1], {**last, "content": f"{last['content']}\n\nAnswer with one word: {options}."}]

    # ---- parsing ----------------------------------------------------------------------
    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def parse_field(signature: Signature, name: str, text: str) -> Any:
        return parse_value(text, signature.outputs[name].type, name)

    # ---- decoding hints ---------------------------------------------------------------
    def for_replies(self, json_replies: bool) -> Adapter:
        """The adapter to format and parse with when the LM constrains replies to JSON objects
        (``json_replies``) or not; ``ChatAdapter`` hands JSON replies to ``JSONAdapter``."""
        return self

    def constraint(self, signature: Signature) -> Constraint | None:
        """Valid replies, in every form this adapter can describe them (the LM picks what its
        provider takes): a GBNF grammar, a JSON schema, or the whole list of replies."""
        from lmdsl.adapters.schema import output_schema

        grammar = self.grammar(signature)
        schema = output_schema(signature) if self.json_replies else None
        choices = self.reply_choices(signature)
        if not (grammar or schema or choices):
            return None
        return Constraint(name=signature.name, grammar=grammar, json_schema=schema, choices=choices)

    json_replies = False  # whether replies are JSON objects (then a JSON schema describes them)

    def reply_choices(self, signature: Signature) -> tuple[str, ...] | None:
        """Every valid reply, when the one output is a label (Literal, Enum, bool)."""
        from lmdsl.signatures.labels import label_field, labels

        field = label_field(signature)
        if field is None:
            return None
        return tuple(self.render_reply(signature, {field.name: value}) for _, value in labels(field))

    def grammar(self, signature: Signature) -> str | None:
        """A GBNF grammar of valid replies, for runtimes that constrain decoding (llama.cpp)."""
        return None

    def stop(self, signature: Signature) -> list[str]:
        """Where a reply is over: a model that goes on to invent the next input block stops there."""
        return [f"\n\n{f.label}:" for f in list(signature.inputs.values())[:3]]

    def max_tokens(self, signature: Signature) -> int | None:
        """Short closed outputs (labels, numbers) need few tokens; free text gets the LM default."""
        outs = list(signature.outputs.values())
        if all(is_closed_type(f.type) for f in outs):
            return 12 * len(outs) + 8
        return None


def missing_fields_error(signature: Signature, missing: list[str], text: str) -> ValueParseError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    labels = ", ".join(f"'{signature.outputs[m].label}:'" for m in missing)
    return ValueParseError(f"missing output field(s) {labels} in reply {shown!r}", field=missing[0], text=text)
