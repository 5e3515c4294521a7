"""A small made-up two-hop world for the example tests: a corpus, questions and a scripted LM.

Every question asks where the author of a work was born. One passage says who wrote the work,
another where that person was born, and nothing else links the two: the birthplace is found
only by a second search for the author's name. The scripted LM answers from the context it is
given, so its final answer is right exactly when retrieval found the author's passage, that
is, exactly when the generated second-hop query was good.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import lmdsl
from lmdsl.lm.request import current_call
from lmdsl.testing import ScriptedLM

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# (work, kind, author, birthplace)
WORKS = [
    ("Velmora", "opera", "Ansel Brackwater", "Quenford"),
    ("The Glass Orchard", "novel", "Mira Tolvane", "Hollowmere"),
    ("Saltwind", "poem", "Edric Fenwould", "Darrowby"),
    ("Copper Sky", "play", "Lisbet Orrin", "Wexham"),
    ("Night Ferry", "film", "Tomas Reyl", "Calloway"),
    ("Amber Vale", "symphony", "Corin Halloway", "Pellmoor"),
    ("Iron Lantern", "musical", "Dagny Strell", "Brisco"),
    ("Winter Harbour", "painting", "Osric Vane", "Lowmarsh"),
]

CORPUS = [
    row
    for work, kind, author, city in WORKS
    for row in (
        {"title": work, "text": f"The {kind} {work} was written by {author}."},
        {"title": author, "text": f"{author} was born in {city} and lived there as a child."},
    )
]

QUESTION = "Where was the author of {work} born?"


def example(work: str) -> lmdsl.Example:
    _, _, author, city = next(w for w in WORKS if w[0] == work)
    return lmdsl.Example(
        question=QUESTION.format(work=work), answer=city, supporting_titles=[work, author]
    ).with_inputs("question")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` by path, as the CLI does."""
    path = EXAMPLES / f"{name}.py"
    if str(EXAMPLES) not in sys.path:  # as the CLI does: examples import their siblings
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"lmdsl_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class WorldLM(ScriptedLM):
    """A scripted model of the made-up world.

    * query generation, first hop: the work named in the question;
    * query generation, later hops: the author named in the context when the question is
      one of ``easy`` or when the prompt shows demos (it "learned" from them); otherwise a
      vague query that finds the work's passage again (``who wrote <work>``), or with
      ``repeat=True`` the first hop's query again (``<work>``);
    * with ``long_first=True`` the first hop's query is the question three times over (too
      long for the example's Suggest);
    * with ``listens=True`` a query call shown feedback (a Suggest failed) does it right:
      the work on the first hop, the author's name on later ones;
    * answer: the birthplace stated in the context, else ``unknown``.
    """

    def __init__(self, easy: set[str] = frozenset(), *, repeat: bool = False, listens: bool = False,
                 long_first: bool = False, **kwargs: Any):
        super().__init__(self._reply, **kwargs)
        self.easy = set(easy)
        self.repeat = repeat
        self.listens = listens
        self.long_first = long_first
        self.feedback: list[str] = []
        self._local = threading.local()

    def _complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        self._local.messages = messages
        return super()._complete(messages, params)

    def _has_demos(self) -> bool:
        return any(m["role"] == "assistant" for m in self._local.messages)

    def _reply(self, inputs: dict[str, Any]) -> dict[str, Any]:
        call = current_call.get()
        assert call is not None
        context = " ".join(inputs.get("context") or [])
        question = inputs["question"]
        work_match = re.search(r"author of (.+) born\?", question)
        work = work_match.group(1) if work_match else question
        if "query" in call.signature.outputs:
            feedback = inputs.get("feedback")
            if feedback:
                self.feedback.append(feedback)
            heeded = bool(feedback) and self.listens
            if not context:
                if self.long_first and not heeded:
                    return {"reasoning": "Search everything.", "query": f"{question} " * 3}
                return {"reasoning": f"First find {work}.", "query": work}
            author = re.search(r"written by ([^.]+)\.", context)
            if author and (work in self.easy or self._has_demos() or heeded):
                return {"reasoning": f"{work} was written by {author.group(1)}.", "query": author.group(1)}
            if self.repeat:
                return {"reasoning": "Search again.", "query": work}
            return {"reasoning": "Look for the author.", "query": f"who wrote {work}"}
        born = re.search(r"was born in (\w+)", context)
        wrote = re.search(r"written by ([^.]+)\.", context)
        if "birth" in question or "born" in question:
            answer = born.group(1) if born else "unknown"
        else:
            answer = wrote.group(1) if wrote else "unknown"
        return {"reasoning": f"The context says so: {answer}.", "answer": answer}
