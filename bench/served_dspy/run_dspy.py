"""DSPy 3.4's side of bench/served.py, run under an interpreter that has dspy (rows on stdin, results on stdout).

The program is what a DSPy user writes for the task: a class signature with a Literal output, dspy.Predict,
DSPy's default adapter, temperature 0, no cache, max_tokens 256 (DSPy's default 4000 lets the 135M model write
for about a minute per call when nothing constrains it).
"""

import json
import sys
import time
from typing import Literal

import dspy

payload = json.load(sys.stdin)
LABELS = {
    "sst2": Literal["negative", "positive"],
    "trec": Literal["abbreviation", "description", "entity", "human", "location", "numeric"],
}
INSTRUCTIONS = {
    "sst2": "Classify the sentiment of a movie review sentence.",
    "trec": "Classify what kind of answer the question asks for.",
}


Label = LABELS[payload["task"]]


class Classify(dspy.Signature):
    text: str = dspy.InputField()
    label: Label = dspy.OutputField()  # type: ignore[valid-type]


Classify.__doc__ = INSTRUCTIONS[payload["task"]]
lm = dspy.LM(f"openai/{payload['model']}", api_base=payload["url"], api_key="x", temperature=0.0, cache=False, max_tokens=256,
             num_retries=0)
dspy.configure(lm=lm)
predict = dspy.Predict(Classify)
out = []
for row in payload["rows"]:
    before = len(lm.history)
    start = time.perf_counter()
    error, label = None, None
    try:
        label = predict(text=row["text"]).label
    except Exception as exc:  # DSPy raises when its adapters cannot parse the reply
        error = f"{type(exc).__name__}: {str(exc)[:120]}"
    calls = lm.history[before:]
    tokens = sum(int((c.get("usage") or {}).get("completion_tokens", 0) or 0) for c in calls)
    out.append({"ok": label == row["label"], "error": error, "calls": len(calls), "tokens": tokens,
                "seconds": time.perf_counter() - start})
json.dump(out, sys.stdout)
