"""MIPROv2: propose instructions and demo sets per predictor, then search them jointly.

1. Demo sets: the candidates lmdsl's random search builds (zero-shot, labeled, bootstrapped
   over shuffled trainsets with a random number of demos), plus the program's own demos when
   it already has some (so MIPRO chains after a few-shot compile).
2. Instructions: the predictor's own, plus proposals from a proposer LM (``prompt_lm``,
   default the task LM) grounded in a dataset summary, the program's source, the
   predictor's signature, demos from one of the sets and a random tip.
3. Search: Optuna's TPE picks one instruction and one demo set per predictor per trial;
   a trial is scored on a random minibatch of the valset; every ``minibatch_full_eval_steps``
   trials the configuration with the best mean minibatch score is scored on the full valset.
   The best full-valset score wins (the program as given is one of the contenders).

Every LM call goes through the cache with fixed rollout ids and a seeded sampler, so an
interrupted compile re-run with the same arguments replays finished work for free.
"""

from __future__ import annotations

import contextlib
import math
import random
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import lmdsl
from lmdsl.errors import LmdslError, UsageError
from lmdsl.evaluate import Evaluate
from lmdsl.optimizers import BootstrapFewShotWithRandomSearch
from lmdsl.optimizers.base import Candidate, MetricFn, Optimizer, check_settings, check_trainset, lm_option
from lmdsl.primitives import Example
from lmdsl.utils.usage import track_usage
from lmdsl_mipro.propose import (
    TIPS,
    DescribeDataset,
    ProposeInstruction,
    clean_instruction,
    describe_step,
    program_source,
    render_rows,
)

if TYPE_CHECKING:
    from lmdsl.program import Module

# auto budgets: candidates per predictor (instructions and demo sets each) and minibatch size.
AUTO = {"light": (6, 25), "medium": (12, 35), "heavy": (18, 50)}

Config = tuple[tuple[int, int], ...]  # per predictor (instruction index, demo-set index)


def default_trials(num_predictors: int, num_candidates: int) -> int:
    """Trials scale with the number of choices: DSPy's rule of thumb, at least 2 x variables x log2(n)."""
    variables = 2 * num_predictors
    return max(math.ceil(2 * variables * math.log2(max(2, num_candidates))), math.ceil(1.5 * num_candidates))


class MIPROv2(Optimizer):
    name = "mipro"

    def __init__(
        self,
        metric: MetricFn,
        *,
        auto: Literal["light", "medium", "heavy"] | None = "light",
        num_candidates: int | None = None,
        num_trials: int | None = None,
        prompt_lm: Any = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 4,
        minibatch: bool = True,
        minibatch_size: int | None = None,
        minibatch_full_eval_steps: int = 5,
        program_aware: bool = True,
        data_aware: bool = True,
        init_temperature: float = 1.0,
        proposer_max_tokens: int = 200,
        metric_threshold: float | None = None,
        num_threads: int | None = None,
        max_errors: int = 10,
        seed: int = 0,
    ):
        super().__init__()
        check_settings(self.name, error=UsageError, choices={"auto": (auto, [*AUTO, None])})
        if auto is None and num_candidates is None:
            raise UsageError("mipro: with auto=None give num_candidates (and optionally num_trials)")
        preset_n, preset_mb = AUTO[auto] if auto else (0, 25)  # with auto=None, num_candidates is given
        self.num_candidates = num_candidates if num_candidates is not None else preset_n
        check_settings(self.name, error=UsageError, counts={
            "num_candidates": (self.num_candidates, 1), "num_trials": (num_trials, 1), "minibatch_size": (minibatch_size, 1),
            "minibatch_full_eval_steps": (minibatch_full_eval_steps, 1), "proposer_max_tokens": (proposer_max_tokens, 1),
            "max_bootstrapped_demos": (max_bootstrapped_demos, 0), "max_labeled_demos": (max_labeled_demos, 0)})
        if init_temperature < 0:
            raise UsageError(f"mipro: init_temperature must be >= 0, got {init_temperature}")
        prompt_lm = lm_option(prompt_lm, self.name, "prompt_lm", error=UsageError)
        self.metric = metric
        self.auto = auto
        self.num_trials = num_trials
        self.prompt_lm = prompt_lm
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.minibatch = minibatch
        self.minibatch_size = minibatch_size or preset_mb
        self.minibatch_full_eval_steps = minibatch_full_eval_steps
        self.program_aware = program_aware
        self.data_aware = data_aware
        self.init_temperature = init_temperature
        self.proposer_max_tokens = proposer_max_tokens
        self.metric_threshold = metric_threshold
        self.num_threads = num_threads
        self.max_errors = max_errors
        self.seed = seed
        self.instructions: dict[str, list[str]] = {}
        self.demo_sets: list[tuple[str, dict[str, list[Example]]]] = []
        self.trials_to_best: int | None = None

    # ---- budget -------------------------------------------------------------------------
    def _plan(self, program: Module, rows: list[Example], val: list[Example]) -> tuple[int, int, int, int]:
        """(trials, minibatch size, full evaluations, program runs) of a compile."""
        predictors = max(1, len(program.predictors()))
        trials = self.num_trials or default_trials(predictors, self.num_candidates)
        batch = min(self.minibatch_size, len(val)) if self.minibatch else len(val)
        full = (math.ceil(trials / self.minibatch_full_eval_steps) if self.minibatch and batch < len(val) else 0) + 1
        bootstraps = max(0, self.num_candidates - 2) * len(rows) if self.max_bootstrapped_demos else 0
        return trials, batch, full, bootstraps + trials * batch + full * len(val)

    # ---- compile ------------------------------------------------------------------------
    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        optuna = _optuna()
        rows = check_trainset(trainset, self.name)
        val = list(valset) if valset else rows
        paths = [path for path, _ in program.named_predictors()]
        if not paths:
            raise lmdsl.ConfigError(f"{self.name}: the program has no predictors to optimize")
        trials, batch, full, runs = self._plan(program, rows, val)
        proposer_calls = (1 if self.data_aware else 0) + len(paths) * (self.num_candidates - 1)
        start = self._start(None)
        assert self.report is not None
        self.report.estimated_calls = runs * len(paths) + proposer_calls
        self.log(f"estimated at most {self.report.estimated_calls} LM calls: {runs} program runs x {len(paths)} "
                 f"predictor{'s' if len(paths) != 1 else ''} ({trials} trials on {batch} rows, {full} full "
                 f"valset evaluations of {len(val)}, bootstrapping) + {proposer_calls} proposer calls; "
                 f"cached answers cost none")
        with track_usage() as usage:
            self.demo_sets = self._demo_sets(program, rows)
            self.instructions = self._propose(program, rows)
            best = self._search(optuna, program, val, trials, batch)
        self.report.notes += [f"instruction {path}[{i}]: {text}" for path, texts in self.instructions.items()
                              for i, text in enumerate(texts)]
        self._finish(start, usage)
        assert self.report.best is not None
        chosen = self.report.candidates[self.report.best]
        self.log(f"best: {chosen.name} with {chosen.score:.1f} on the full valset")
        return best

    def _demo_sets(self, program: Module, rows: list[Example]) -> list[tuple[str, dict[str, list[Example]]]]:
        sets: list[tuple[str, dict[str, list[Example]]]] = []
        own = {path: list(p.demos) for path, p in program.named_predictors()}
        if any(own.values()) or not (self.max_bootstrapped_demos or self.max_labeled_demos):
            sets.append(("as given", own))
        if self.max_bootstrapped_demos or self.max_labeled_demos:
            search = BootstrapFewShotWithRandomSearch(
                self.metric, num_candidate_programs=max(0, self.num_candidates - 3),
                max_bootstrapped_demos=self.max_bootstrapped_demos, max_labeled_demos=self.max_labeled_demos,
                metric_threshold=self.metric_threshold, num_threads=self.num_threads, max_errors=self.max_errors,
                seed=self.seed)
            for name, candidate, _ in search.candidates(program, rows):
                if name.startswith("bootstrap") and not self.max_bootstrapped_demos:
                    break  # labeled demos only: the sets below would bootstrap
                sets.append((name, {path: list(p.demos) for path, p in candidate.named_predictors()}))
                if len(sets) >= self.num_candidates:
                    break
        self.log("demo sets: " + ", ".join(f"{name} ({sum(map(len, d.values()))} demos)" for name, d in sets))
        return sets

    def _propose(self, program: Module, rows: list[Example]) -> dict[str, list[str]]:
        rng = random.Random(self.seed)
        summary = self._summarize(rows, rng) if self.data_aware else "(not shown)"
        source = program_source(program) if self.program_aware else "(not shown)"
        out: dict[str, list[str]] = {}
        for path, predictor in program.named_predictors():
            texts = [predictor.signature.instructions]
            for k in range(1, self.num_candidates):
                demos = self.demo_sets[k % len(self.demo_sets)][1].get(path) or []
                runs = render_rows(demos[:3]) if demos else render_rows(rng.sample(rows, min(3, len(rows))))
                tip = TIPS[rng.randrange(len(TIPS))]
                inputs = {"dataset_description": summary, "program_code": source,
                          "step": describe_step(path, predictor), "example_runs": runs, "tip": tip}
                text = self._ask(ProposeInstruction, inputs, f"mipro-{self.seed}-{path}-{k}", "instruction")
                text = clean_instruction(text)
                if text and text not in texts:
                    texts.append(text)
                    self.log(f"proposed {path}[{len(texts) - 1}]: {text[:90]!r}")
            out[path] = texts
        return out

    def _summarize(self, rows: list[Example], rng: random.Random) -> str:
        sample = rng.sample(rows, min(6, len(rows)))
        text = self._ask(DescribeDataset, {"rows": render_rows(sample, 120)}, f"mipro-{self.seed}-data", "summary")
        return clean_instruction(text)[:500] or "(no description)"

    def _ask(self, signature: Any, inputs: dict[str, Any], rollout: str, field: str) -> str:
        """One proposer call; a reply that cannot be parsed or does not fit the context is skipped."""
        # A small proposer rambles until max_tokens; an instruction needs a few sentences.
        proposer = lmdsl.Predict(signature, temperature=self.init_temperature, rollout_id=rollout,
                                 max_tokens=self.proposer_max_tokens)
        scope = lmdsl.context(lm=self.prompt_lm) if self.prompt_lm is not None else contextlib.nullcontext()
        with scope:
            try:
                return str(proposer(**inputs)[field])
            except LmdslError as exc:
                self.log(f"proposer call skipped ({type(exc).__name__}: {str(exc)[:120]})")
                return ""

    # ---- search -------------------------------------------------------------------------
    def _build(self, program: Module, config: Config) -> Module:
        candidate = program.deepcopy()
        for (path, predictor), (i, d) in zip(candidate.named_predictors(), config):
            predictor.signature = predictor.signature.with_instructions(self.instructions[path][i])
            predictor.demos = list(self.demo_sets[d][1][path])
        return candidate

    def _search(self, optuna: Any, program: Module, val: list[Example], trials: int, batch: int) -> Any:
        assert self.report is not None
        report = self.report  # (closures below do not see the narrowing of self.report)
        paths = [path for path, _ in program.named_predictors()]
        evaluate = Evaluate(val, self.metric, num_threads=self.num_threads, max_errors=len(val) + 1,
                            display_progress=False)
        space = {}
        for path in paths:
            if len(self.instructions[path]) > 1:
                space[f"{path}:instruction"] = optuna.distributions.CategoricalDistribution(
                    list(range(len(self.instructions[path]))))
            if len(self.demo_sets) > 1:
                space[f"{path}:demos"] = optuna.distributions.CategoricalDistribution(list(range(len(self.demo_sets))))

        def config_of(params: dict[str, int]) -> Config:
            return tuple((params.get(f"{p}:instruction", 0), params.get(f"{p}:demos", 0)) for p in paths)

        def params_of(config: Config) -> dict[str, int]:
            params = {}
            for p, (i, d) in zip(paths, config):
                params.update({f"{p}:instruction": i, f"{p}:demos": d})
            return {k: v for k, v in params.items() if k in space}

        full_scores: dict[Config, float] = {}
        best: list[Any] = [None, None, None]  # config, score, program

        def full_eval(config: Config, why: str) -> float:
            candidate = self._build(program, config)
            evaluate.label = f"{self.name} full valset ({why})"
            score = evaluate(candidate).score
            full_scores[config] = score
            self._record(f"full valset: {why}", score, config, full=True)
            if best[1] is None or score > best[1]:
                best[:] = [config, score, candidate]
                report.best = len(report.candidates) - 1
            self.log(f"full valset, {why}: {score:.1f} (best {best[1]:.1f})")
            return score

        # The program as given (own instructions, and its own demos if it has any) is the baseline.
        own = next((d for d, (name, _) in enumerate(self.demo_sets) if name == "as given"), None)
        start_config: Config = tuple((0, own if own is not None else 0) for _ in paths)
        baseline = full_eval(start_config, "default")
        if not space:
            self.log("only one instruction and one demo set: nothing to search")
            return best[2]
        with warnings.catch_warnings():  # multivariate TPE is flagged experimental; it models choices jointly
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=max(2, min(10, trials // 6)),
                                                 multivariate=True, warn_independent_sampling=False)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.add_trial(optuna.trial.create_trial(params=params_of(start_config), distributions=space,
                                                  value=baseline))
        rng = random.Random(self.seed)
        observed: dict[Config, list[float]] = {}
        full_due = self.minibatch and batch < len(val)
        for t in range(trials):
            trial = study.ask(space)
            config = config_of(trial.params)
            rows = rng.sample(val, batch) if full_due else val
            evaluate.label = f"{self.name} trial {t + 1}/{trials}"
            score = evaluate(self._build(program, config), devset=rows).score
            study.tell(trial, score)
            observed.setdefault(config, []).append(score)
            self._record(f"trial {t + 1}" + (" (minibatch)" if full_due else ""), score, config)
            self.log(f"trial {t + 1}/{trials}: {score:.1f} with " + self._describe(config, paths))
            if not full_due:
                if best[1] is None or score > best[1]:
                    best[:] = [config, score, self._build(program, config)]
                    report.best = len(report.candidates) - 1
                    self.trials_to_best = t + 1
                continue
            if (t + 1) % self.minibatch_full_eval_steps == 0 or t == trials - 1:
                pending = [c for c in observed if c not in full_scores]
                if pending:  # the best mean minibatch score not yet checked on the full valset
                    chosen = max(pending, key=lambda c: (sum(observed[c]) / len(observed[c]), len(observed[c])))
                    before = best[1]
                    full_eval(chosen, f"best mean minibatch after trial {t + 1}")
                    if best[1] != before:
                        self.trials_to_best = t + 1
        return best[2]

    def _describe(self, config: Config, paths: list[str]) -> str:
        return "; ".join(f"{p}: instruction {i}, demos {self.demo_sets[d][0]}" for p, (i, d) in zip(paths, config))

    def _record(self, name: str, score: float, config: Config, full: bool = False) -> None:
        assert self.report is not None
        paths = list(self.instructions)
        details: dict[str, Any] = {"config": {p: {"instruction": i, "demos": self.demo_sets[d][0]}
                                              for p, (i, d) in zip(paths, config)}, "full_valset": full}
        if full:
            details["instructions"] = {p: self.instructions[p][i] for p, (i, _) in zip(paths, config)}
        demos = {p: len(self.demo_sets[d][1][p]) for p, (_, d) in zip(paths, config)}
        self.report.candidates.append(Candidate(name, score, demos, details))


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:  # pragma: no cover - declared as a dependency of lmdsl-mipro
        raise lmdsl.ConfigError("mipro needs optuna: pip install 'optuna>=4,<6'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
