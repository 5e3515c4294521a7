"""`Calibrate`: learn, per label, how much a predictor's model over- or under-rates it.

A small model asked for a label leans towards one of them whatever the input (SmolLM2-135M
answers "negative" to three SST-2 sentences in four). Calibrate switches every predictor
whose one output is a label (Literal, Enum, bool) to scoring each label (``Predict.label_bias``),
runs the program over the trainset once, then searches, label by label, for the additive
biases that maximise the metric of the *whole program* on the trainset. Only the final
metric is needed, so a label predictor in the middle of a pipeline is calibrated too.

Every later pass over the trainset re-uses the first pass's LM answers from memory, so the
search costs no LM call: a compile costs one program run per trainset row (plus the valset
evaluations that report the score before and after). It composes with the few-shot
optimizers: calibrate a program that already has demos and the scoring prompt includes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lmdsl import settings
from lmdsl.errors import ConfigError, UsageError
from lmdsl.evaluate import Evaluate
from lmdsl.lm.cache import request_key
from lmdsl.lm.default import current_lm
from lmdsl.lm.protocol import LanguageModel
from lmdsl.optimizers.base import Candidate, MetricFn, Optimizer, check_trainset
from lmdsl.primitives import Example
from lmdsl.signatures.labels import label_field, labels
from lmdsl.utils.usage import track_usage

if TYPE_CHECKING:
    from lmdsl.program import Module


class Calibrate(Optimizer):
    name = "calibrate"

    def __init__(
        self,
        metric: MetricFn,
        *,
        max_bias: float = 8.0,
        step: float = 0.25,
        sweeps: int = 3,
        num_threads: int | None = None,
        max_errors: int = 10,
    ):
        super().__init__()
        if max_bias <= 0 or step <= 0:
            raise UsageError(f"calibrate: max_bias and step must be > 0, got {max_bias} and {step}")
        if sweeps < 1:
            raise UsageError(f"calibrate: sweeps must be >= 1, got {sweeps}")
        self.metric = metric
        self.max_bias = max_bias
        self.step = step
        self.sweeps = sweeps
        self.num_threads = num_threads
        self.max_errors = max_errors

    def grid(self) -> list[float]:
        """Candidate biases, smallest magnitude first (a tie keeps the smaller bias)."""
        count = round(self.max_bias / self.step)
        values = [0.0]
        for i in range(1, count + 1):
            values += [i * self.step, -i * self.step]
        return values

    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        rows = check_trainset(trainset, self.name)
        student = program.deepcopy()
        targets = {}  # path -> predictor, each starting from a zero bias per label
        for path, p in student.named_predictors():
            field = label_field(p.signature) if hasattr(p, "label_bias") else None
            if field is not None:
                p.label_bias = {text: 0.0 for text, _ in labels(field)}
                targets[path] = p
        if not targets:
            described = "; ".join(f"{path}: {p.signature!r}" for path, p in student.named_predictors())
            raise ConfigError(f"{self.name}: no predictor has a single label output (Literal, Enum or bool) "
                              f"to calibrate ({described or 'the program has no predictors'})")
        runs = len(rows) + 2 * len(valset or [])
        start = self._start(runs, program)
        assert self.report is not None
        with track_usage() as usage:
            before = self._evaluate(program, valset, "before") if valset else None
            with _memoized(student):
                fitted = self._evaluate(student, rows, "scoring trainset").score
                unbiased = fitted
                free = sum(len(p.label_bias or {}) - 1 for p in targets.values())
                for sweep in range(self.sweeps if free > 1 else 1):  # one bias alone needs one pass
                    fitted, changed = self._sweep(student, targets, rows, fitted)
                    self.log(f"sweep {sweep + 1}: trainset {fitted:.1f} with "
                             + "; ".join(f"{path} {_show(p.label_bias)}" for path, p in targets.items()))
                    if not changed:
                        break
            after = self._evaluate(student, valset, "after") if valset else None
        self.report.candidates += [
            Candidate("as given", before.score if before else None),
            Candidate("calibrated", after.score if after else fitted,
                      details={"trainset_unbiased": unbiased, "trainset_calibrated": fitted,
                               "label_bias": {path: dict(p.label_bias or {}) for path, p in targets.items()}}),
        ]
        self.report.best = 1
        if before is not None and after is not None and after.score < before.score:
            self.report.notes.append(f"calibrated valset score {after.score:.1f} is below the program as given "
                                     f"({before.score:.1f}): the trainset may be too small or unlike the valset")
            self.log("warning: " + self.report.notes[-1])
        self._finish(start, usage)
        return student

    def _evaluate(self, program: Module, rows: Sequence[Example], label: str) -> Any:
        return Evaluate(rows, self.metric, num_threads=self.num_threads, max_errors=self.max_errors,
                        label=f"{self.name} {label}")(program)

    def _sweep(self, student: Module, targets: dict[str, Any], rows: list[Example], best: float) -> tuple[float, bool]:
        """One pass of coordinate ascent over every label but each predictor's first (only
        differences between biases matter, so the first stays 0)."""
        # The search replays the first pass's answers from memory: it stays in this process.
        quiet = Evaluate(rows, self.metric, num_threads=1, display_progress=False, max_errors=len(rows) + 1,
                         executor="threads")
        changed = False
        grid = self.grid()
        for p in targets.values():
            for text in list(p.label_bias)[1:]:
                current = p.label_bias[text]
                chosen = current
                for value in grid:
                    if value == current:
                        continue
                    p.label_bias[text] = value
                    score = quiet(student).score
                    if score > best or (score == best and abs(value) < abs(chosen)):
                        best, chosen = score, value
                p.label_bias[text] = chosen
                changed = changed or chosen != current
        return best, changed


def _show(bias: dict[str, float] | None) -> str:
    return "{" + ", ".join(f"{k}: {v:+.2f}" for k, v in (bias or {}).items()) + "}"


class _MemoLM:
    """Answers a repeated request from memory: the search re-runs the program hundreds of
    times on the same rows, which must cost no LM call even when the LM's cache is off."""

    def __init__(self, lm: LanguageModel):
        self.lm = lm
        self._memo: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lm, name)

    def _remembered(self, kind: str, messages: Any, params: dict[str, Any], call: Any) -> Any:
        key = kind + request_key(self.lm.model, messages, params)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        result = call()
        with self._lock:
            self._memo[key] = result
        return result

    def __call__(self, messages: list[dict[str, Any]], **overrides: Any) -> Any:
        return self._remembered("call", messages, overrides, lambda: self.lm(messages, **overrides))

    def score(self, messages: list[dict[str, Any]], replies: list[str], **overrides: Any) -> Any:
        return self._remembered("score", messages, {"replies": replies, **overrides},
                                lambda: self.lm.score(messages, replies, **overrides))


@contextmanager
def _memoized(program: Module) -> Iterator[None]:
    """Every predictor of ``program`` (and the default LM) answers repeated requests from memory."""
    memos: dict[int, _MemoLM] = {}

    def memo(lm: LanguageModel) -> _MemoLM:
        return memos.setdefault(id(lm), _MemoLM(lm))

    own = [(p, p.lm) for p in program.predictors() if p.lm is not None]
    for p, lm in own:
        p.lm = memo(lm)
    try:
        try:
            default = current_lm()
        except Exception:  # no default LM: fine as long as every predictor has its own
            default = None
        with settings.context(lm=memo(default) if default is not None else None):
            yield
    finally:
        for p, lm in own:
            p.lm = lm
