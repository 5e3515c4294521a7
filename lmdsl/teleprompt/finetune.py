"""`BootstrapFinetune`: teach a model the program's steps from its own successful traces.

The teacher (by default the program as given, which may itself be a compiled few-shot
program) runs over the trainset with tracing. Every predictor call in a run whose final
output passes the metric becomes one chat training example, formatted by that
predictor's adapter *without demos*, so the tuned model learns the task from the
instructions and the input alone. A finetuner (looked up by name through the
``lmdsl_register_finetuners`` hook, e.g. ``lora`` from the ``lmdsl-lora`` plugin) turns the
dataset into a model name ``lmdsl.LM`` can load; the returned program's predictors use it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmdsl import settings
from lmdsl.adapters import ChatAdapter
from lmdsl.errors import ConfigError, PluginError
from lmdsl.evaluate import Evaluate
from lmdsl.evaluate.evaluate import call_program
from lmdsl.lm import LM
from lmdsl.lm.cache import cache_dir
from lmdsl.lm.usage import track_usage
from lmdsl.primitives import Example
from lmdsl.program.trace import tracing
from lmdsl.teleprompt.base import Candidate, MetricFn, Teleprompter, check_trainset, passes
from lmdsl.utils.parallel import parallel_map
from lmdsl.utils.progress import Progress
from lmdsl.values.introspect import label_choices

ChatExample = dict[str, list[dict[str, str]]]


def chat_example(predictor: Any, inputs: dict[str, Any], outputs: dict[str, Any]) -> ChatExample:
    """One training example in the OpenAI chat fine-tuning format, in the predictor's own prompt format."""
    adapter = predictor.adapter or settings.get("adapter") or ChatAdapter()
    messages = adapter.format(predictor.signature, [], inputs)
    reply = adapter.render_reply(predictor.signature, {k: outputs[k] for k in predictor.signature.outputs})
    return {"messages": [*messages, {"role": "assistant", "content": reply}]}


def _answer_key(entry: Any) -> str:
    """The label outputs (Literal, Enum, bool) of a trace entry as one string, or "" if it has none.

    Numbers are left out: their values rarely repeat, so grouping by them would balance nothing.
    """
    closed = [name for name, field in entry.predictor.signature.outputs.items() if label_choices(field.type)]
    if not closed:
        return ""
    outputs = entry.outputs.to_dict()
    return ", ".join(f"{name}={outputs.get(name)!s}" for name in closed)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class BootstrapFinetune(Teleprompter):
    name = "bootstrap-finetune"

    def __init__(
        self,
        metric: MetricFn,
        *,
        finetuner: str = "lora",
        teacher: Any = None,
        target_lm: str | None = None,
        epochs: int = 2,
        metric_threshold: float | None = None,
        multitask: bool = True,
        balance: bool = True,
        num_threads: int | None = None,
        export_path: str | None = None,
        seed: int = 0,
        **finetuner_options: Any,
    ):
        super().__init__()
        self.metric = metric
        self.finetuner = finetuner
        self.teacher = teacher
        self.target_lm = target_lm
        self.epochs = epochs
        self.metric_threshold = metric_threshold
        self.multitask = multitask
        self.balance = balance
        self.num_threads = num_threads
        self.export_path = export_path
        self.seed = seed
        self.finetuner_options = finetuner_options
        self.datasets: dict[str, list[ChatExample]] = {}
        self.answer_counts: dict[str, dict[str, int]] = {}

    # ---- data -------------------------------------------------------------------------
    def build_datasets(self, teacher: Any, rows: list[Example]) -> dict[str, list[ChatExample]]:
        """Per-predictor chat examples from the passing traces of the teacher."""
        paths = {id(p): path for path, p in teacher.named_predictors()}
        datasets: dict[str, list[ChatExample]] = {path: [] for path in paths.values()}
        threads = self.num_threads or int(settings.get("num_threads"))
        progress = Progress(len(rows), f"{self.name} traces", enabled=bool(settings.get("display_progress")))

        def run(example: Example) -> list[Any] | None:
            try:
                with tracing() as trace:
                    prediction = call_program(teacher, example)
                    score = self.metric(example, prediction, trace)
            except Exception:
                return None
            return list(trace) if passes(score, self.metric_threshold) else None

        def on_result(_i: int, _r: Any) -> None:
            progress.update()

        traces = parallel_map(run, rows, num_threads=threads, on_result=on_result)
        progress.close()
        self.answer_counts = {}  # a reused optimizer must not report the previous compile's counts
        kept = [t for t in traces if t]
        if self.balance:
            kept = self._balanced(kept)
        for trace in kept:
            for entry in trace:
                path = paths.get(id(entry.predictor))
                if path is not None:
                    datasets[path].append(chat_example(entry.predictor, entry.inputs, entry.outputs.to_dict()))
        return datasets

    def _balanced(self, traces: list[list[Any]]) -> list[list[Any]]:
        """As many passing runs per final answer as the rarest answer has.

        Passing runs inherit the teacher's bias: a teacher that mostly says "negative" passes
        mostly on negative rows, and a model tuned on those learns to say "negative". When the
        final step's outputs are labels (Literal, Enum, bool), runs are grouped by
        those labels and every group is cut, at random under the seed, to the smallest size.
        """
        groups: dict[str, list[list[Any]]] = {}
        for trace in traces:
            groups.setdefault(_answer_key(trace[-1]), []).append(trace)
        self.answer_counts = {"passed": {k: len(v) for k, v in groups.items()}}
        if "" in groups or len(groups) < 2:  # free-text answers, or a single answer: nothing to even out
            if len(groups) == 1 and "" not in groups:
                self.log(f"warning: every passing run answered {next(iter(groups))}; the tuned model "
                         "will learn that one answer (use a better teacher or more training rows)")
            return traces
        size = min(len(v) for v in groups.values())
        rng = random.Random(self.seed)
        chosen = {id(t) for group in groups.values() for t in rng.sample(group, size)}
        self.answer_counts["kept"] = {k: size for k in groups}
        return [t for t in traces if id(t) in chosen]  # trainset order, for a stable dataset hash

    def export(self, dataset: list[ChatExample], name: str) -> Path:
        """Write the training set as JSONL in the OpenAI chat fine-tuning format."""
        blob = "".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in dataset)
        if self.export_path:
            path = Path(self.export_path)
            if len(self.datasets) > 1 and not self.multitask:
                path = path.with_name(f"{path.stem}.{name}{path.suffix}")
        else:
            digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
            path = cache_dir() / "finetune-data" / f"{digest}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(blob, encoding="utf-8")
        return path

    # ---- compile ----------------------------------------------------------------------
    def compile(self, program: Any, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Any:
        from lmdsl.plugins import get_finetuner

        rows = check_trainset(trainset, self.name)
        try:
            finetune = get_finetuner(self.finetuner)
        except PluginError as exc:
            raise ConfigError(f"{exc} (the LoRA finetuner comes with: pip install -e plugins/lmdsl-lora)") from None
        start = self._start(len(rows))
        assert self.report is not None
        base = self.target_lm or getattr(settings.current_lm(), "model", None)
        if not base:
            raise ConfigError(f"{self.name}: no base model (pass target_lm= or configure an LM)")
        teacher = (self.teacher or program).deepcopy()
        student = program.reset_copy()
        with track_usage() as usage:
            before = Evaluate(valset, self.metric, num_threads=self.num_threads, label="before")(program) \
                if valset else None
            self.datasets = self.build_datasets(teacher, rows)
            kept = {path: len(ds) for path, ds in self.datasets.items()}
            if self.answer_counts.get("kept"):
                self.log(f"passing runs per answer {self.answer_counts['passed']}, balanced to "
                         f"{self.answer_counts['kept']} (balance=False keeps them all)")
            self.log(f"kept {sum(kept.values())} training examples from passing traces: {kept}")
            if not any(kept.values()):
                raise ConfigError(f"{self.name}: no teacher run passed the metric; nothing to train on")
            groups = ({"all": [ex for ds in self.datasets.values() for ex in ds]} if self.multitask
                      else {p: ds for p, ds in self.datasets.items() if ds})
            tuned: dict[str, LM] = {}
            train_seconds = 0.0
            for name, dataset in groups.items():
                exported = self.export(dataset, name)
                self.log(f"training set ({len(dataset)} examples) written to {exported}")
                t0 = time.perf_counter()
                model_name = finetune(dataset, base, epochs=self.epochs, seed=self.seed, **self.finetuner_options)
                train_seconds += time.perf_counter() - t0
                lm = LM(model_name)
                if model_name.startswith("local/") and Path(model_name[6:]).is_file():
                    lm.model_sha256 = sha256_file(Path(model_name[6:]))
                tuned[name] = lm
            paths = dict(student.named_predictors())
            for path, predictor in paths.items():
                predictor.lm = tuned["all"] if self.multitask else tuned.get(path, predictor.lm)
            after = Evaluate(valset, self.metric, num_threads=self.num_threads, label="after")(student) \
                if valset else None
        self.report.candidates.append(Candidate("teacher", before.score if before else None))
        self.report.candidates.append(Candidate("fine-tuned", after.score if after else None,
                                                details={"examples_kept": kept, "answers": self.answer_counts,
                                                         "training_seconds": round(train_seconds, 1),
                                                         "models": {n: lm.model for n, lm in tuned.items()}}))
        self.report.best = 1
        self._finish(start, usage)
        return student
