"""What a report shows, gathered from a compile's or an evaluation's results (no HTML, no plots)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lmdsl.values.render import to_jsonable

if TYPE_CHECKING:
    from lmdsl.program import Module

ERROR_LABEL = "(error)"
OTHER_LABEL = "(other)"
MAX_FREE_LABELS = 12  # a field with more distinct gold values than this is not treated as a label


@dataclass
class PredictorState:
    path: str
    signature: str
    instructions: str
    demos: list[dict[str, Any]]
    label_bias: dict[str, float] | None = None


@dataclass
class LabelBreakdown:
    """Gold label x predicted label counts for one output field."""

    field: str
    labels: list[str]  # gold labels, then any other predicted value bucketed as OTHER/ERROR
    columns: list[str]
    matrix: list[list[int]]  # matrix[gold index][column index]

    def accuracy(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for i, label in enumerate(self.labels):
            total = sum(self.matrix[i])
            hit = self.matrix[i][self.columns.index(label)] if label in self.columns else 0
            out[label] = round(100 * hit / total, 1) if total else None
        return out

    @property
    def total(self) -> int:
        return sum(map(sum, self.matrix))


@dataclass
class ChangedRow:
    index: int
    inputs: dict[str, Any]
    gold: dict[str, Any]
    before: Any
    after: Any
    before_score: float
    after_score: float


@dataclass
class ReportData:
    title: str
    kind: str  # "compile" | "evaluate"
    facts: list[tuple[str, str]] = field(default_factory=list)
    baseline_score: float | None = None
    final_score: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # name, score, demos, details, best
    predictors: list[PredictorState] = field(default_factory=list)
    breakdowns: dict[str, list[LabelBreakdown]] = field(default_factory=dict)  # "baseline"/"compiled" -> fields
    improved: list[ChangedRow] = field(default_factory=list)
    worsened: list[ChangedRow] = field(default_factory=list)
    failures: list[ChangedRow] = field(default_factory=list)  # evaluate: rows scored below 1
    phases: list[dict[str, Any]] = field(default_factory=list)
    estimate: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ---- predictors ---------------------------------------------------------------------------------
def predictor_states(program: Module) -> list[PredictorState]:
    states = []
    for path, predictor in program.named_predictors():
        signature = predictor.signature
        demos = [to_jsonable(d.to_dict() if hasattr(d, "to_dict") else dict(d)) for d in predictor.demos]
        states.append(PredictorState(path, repr(signature), str(getattr(signature, "instructions", "") or ""),
                                     demos, getattr(predictor, "label_bias", None)))
    return states


# ---- labels -----------------------------------------------------------------------------------
def label_fields(program: Module | None, rows: list[Any]) -> dict[str, list[str] | None]:
    """Output fields worth a confusion matrix: typed labels of some predictor (their declared
    order), else gold fields with few distinct text values (first-seen order, None here)."""
    from lmdsl.values.introspect import label_choices
    from lmdsl.values.render import render_output_value

    declared: dict[str, list[str]] = {}
    for _, predictor in program.named_predictors() if program is not None else []:
        for name, fld in predictor.signature.outputs.items():
            choices = label_choices(fld.type)
            if choices:
                declared.setdefault(name, [render_output_value(c) for c in choices])
    found: dict[str, list[str] | None] = {}
    golds = [_gold(row.example) for row in rows]
    predicted = _predicted_keys(rows)
    for name in sorted({k for g in golds for k in g} & predicted):  # gold fields the program answers
        values = [g[name] for g in golds if name in g]
        if name in declared:
            found[name] = declared[name]
        elif values and all(isinstance(v, str | bool) for v in values):
            distinct = len({_text(v) for v in values})
            if 1 < distinct <= MAX_FREE_LABELS and len(values) >= 2 * distinct:
                found[name] = None
    return found


def breakdown(rows: list[Any], name: str, declared: list[str] | None) -> LabelBreakdown | None:
    pairs = []
    for row in rows:
        gold = _gold(row.example)
        if name not in gold:
            continue
        predicted = _output(row.prediction, name)
        pairs.append((_text(gold[name]), ERROR_LABEL if row.error or predicted is None else _text(predicted)))
    if not pairs:
        return None
    labels = list(declared or [])
    labels += [g for g, _ in _ordered(pairs, 0) if g not in labels]
    columns = list(labels)
    for _, p in _ordered(pairs, 1):
        bucket = p if p in columns or p == ERROR_LABEL else OTHER_LABEL
        if bucket not in columns:
            columns.append(bucket)
    counts = Counter(pairs)
    matrix = [[0] * len(columns) for _ in labels]
    for (g, p), n in counts.items():
        column = p if p in columns else OTHER_LABEL
        matrix[labels.index(g)][columns.index(column)] += n
    labels_with_rows = [lb for i, lb in enumerate(labels) if sum(matrix[i]) or (declared and lb in declared)]
    keep = [labels.index(lb) for lb in labels_with_rows]
    return LabelBreakdown(name, labels_with_rows, columns, [matrix[i] for i in keep])


def breakdowns(rows: list[Any], fields: dict[str, list[str] | None]) -> list[LabelBreakdown]:
    out = [breakdown(rows, name, declared) for name, declared in fields.items()]
    return [b for b in out if b is not None]


# ---- rows -----------------------------------------------------------------------------------
def changed_rows(before: list[Any], after: list[Any]) -> tuple[list[ChangedRow], list[ChangedRow]]:
    """(rows whose score rose, rows whose score fell) between two evaluations of the same devset."""
    up: list[ChangedRow] = []
    down: list[ChangedRow] = []
    answered = _predicted_keys(after) | _predicted_keys(before)
    for index, (b, a) in enumerate(zip(before, after)):
        if a.score == b.score:
            continue
        row = _changed(index, b, a, answered)
        (up if a.score > b.score else down).append(row)
    return up, down


def failed_rows(rows: list[Any], limit: int = 50) -> list[ChangedRow]:
    out = []
    answered = _predicted_keys(rows)
    for index, row in enumerate(rows):
        if row.score < 1.0:
            out.append(_changed(index, None, row, answered))
        if len(out) >= limit:
            break
    return out


def _predicted_keys(rows: list[Any]) -> set[str]:
    keys: set[str] = set()
    for row in rows:
        if hasattr(row.prediction, "to_dict"):
            keys.update(row.prediction.to_dict())
    return keys


def _changed(index: int, before: Any, after: Any, answered: set[str] | None = None) -> ChangedRow:
    example = after.example
    gold = _gold(example)
    if answered and answered & set(gold):  # ids, source lines and other bookkeeping fields are left out
        gold = {k: v for k, v in gold.items() if k in answered}
    return ChangedRow(index, to_jsonable(example.inputs().to_dict()), to_jsonable(gold),
                      _shown(before) if before is not None else None, _shown(after),
                      before.score if before is not None else 0.0, after.score)


def _shown(row: Any) -> Any:
    if row.error:
        return f"error: {row.error}"
    prediction = row.prediction
    return to_jsonable(prediction.to_dict() if hasattr(prediction, "to_dict") else prediction)


def _gold(example: Any) -> dict[str, Any]:
    inputs = set(example.input_keys or ())
    return {k: v for k, v in example.to_dict().items() if k not in inputs}


def _output(prediction: Any, name: str) -> Any:
    if prediction is None:
        return None
    if hasattr(prediction, "to_dict"):
        return prediction.to_dict().get(name)
    return prediction if name in ("output", "answer", "label") else None


def _text(value: Any) -> str:
    from lmdsl.values.render import render_output_value

    return render_output_value(value) if not isinstance(value, str) else value


def _ordered(pairs: list[tuple[str, str]], i: int) -> list[tuple[str, str]]:
    seen: dict[str, tuple[str, str]] = {}
    for pair in pairs:
        seen.setdefault(pair[i], pair)
    return list(seen.values())
