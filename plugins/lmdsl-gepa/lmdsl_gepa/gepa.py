"""GEPA: reflective prompt evolution with a Pareto frontier of candidates.

A candidate is one instruction per predictor. Starting from the program as given:

1. choose a parent from the Pareto frontier over valset rows (``pareto.py``), and one of
   its predictors (round robin);
2. run the parent on a minibatch of trainset rows with tracing on; a *reflection LM* reads
   that predictor's inputs and outputs with the metric's feedback (``lmdsl.Feedback`` text,
   or the score and the expected values) and writes a new instruction;
3. run the child on the same minibatch; keep it only when its total beats the parent's, then
   score it on the full valset, which places it on (or off) the frontier;
4. after a kept child, try a *merge*: two frontier candidates descending from a common
   ancestor that changed different predictors are combined, predictor by predictor; the
   merge is kept when it scores at least as well as both parents on a few valset rows.

The budget counts metric calls (program runs); a compile never exceeds it. The result is the
candidate with the best mean valset score. Calls go through the cache with seeded choices
and fixed rollout ids, so an interrupted compile re-run with the same arguments resumes.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import lmdsl
from lmdsl import settings
from lmdsl.errors import ConfigError, LmdslError, UsageError
from lmdsl.evaluate import MetricError, split_feedback
from lmdsl.evaluate.evaluate import call_metric, call_program, describe_error
from lmdsl.optimizers.base import Candidate, MetricFn, Optimizer, check_settings, check_trainset, lm_option
from lmdsl.primitives import Example
from lmdsl.program.trace import tracing
from lmdsl.utils.parallel import parallel_map
from lmdsl.utils.usage import track_usage
from lmdsl_gepa.pareto import best_mean, frontier, select_parent
from lmdsl_gepa.reflect import ReflectInstruction, Rollout, clean_instruction, render_examples

if TYPE_CHECKING:
    from lmdsl.program import Module, Predictor

# auto budgets, in full valset evaluations' worth of metric calls.
AUTO = {"light": 6, "medium": 12, "heavy": 24}

Instructions = dict[str, str]


class GEPA(Optimizer):
    name = "gepa"

    def __init__(
        self,
        metric: MetricFn,
        *,
        reflection_lm: Any = None,
        max_metric_calls: int | None = None,
        auto: Literal["light", "medium", "heavy"] | None = None,
        reflection_minibatch_size: int = 3,
        candidate_selection: Literal["pareto", "current_best"] = "pareto",
        use_merge: bool = True,
        max_merge_invocations: int = 5,
        merge_subsample: int = 5,
        skip_perfect_score: bool = True,
        perfect_score: float = 1.0,
        reflection_temperature: float = 1.0,
        reflection_max_tokens: int = 400,
        num_threads: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if max_metric_calls is not None and auto is not None:
            raise UsageError("gepa: give max_metric_calls or auto, not both")
        check_settings(self.name, error=UsageError, choices={
            "auto": (auto, [*AUTO, None]), "candidate_selection": (candidate_selection, ["pareto", "current_best"])},
            counts={"max_metric_calls": (max_metric_calls, 1), "reflection_minibatch_size": (reflection_minibatch_size, 1),
                    "max_merge_invocations": (max_merge_invocations, 0), "merge_subsample": (merge_subsample, 1),
                    "reflection_max_tokens": (reflection_max_tokens, 1)})
        reflection_lm = lm_option(reflection_lm, self.name, "reflection_lm", error=UsageError)
        self.metric = metric
        self.reflection_lm = reflection_lm
        self.max_metric_calls = max_metric_calls
        self.auto = auto
        self.minibatch_size = reflection_minibatch_size
        self.candidate_selection = candidate_selection
        self.use_merge = use_merge
        self.max_merge_invocations = max_merge_invocations
        self.merge_subsample = merge_subsample
        self.skip_perfect_score = skip_perfect_score
        self.perfect_score = perfect_score
        self.reflection_temperature = reflection_temperature
        self.reflection_max_tokens = reflection_max_tokens
        self.num_threads = num_threads
        self.seed = seed
        self.pool: list[Instructions] = []
        self.parents: list[tuple[int, ...]] = []
        self.val_scores: list[list[float]] = []
        self.history: list[dict[str, Any]] = []
        self.metric_calls = 0

    def budget(self, valset_size: int) -> int:
        if self.max_metric_calls is not None:
            return self.max_metric_calls
        return AUTO[self.auto or "light"] * valset_size

    # ---- compile ------------------------------------------------------------------------
    def compile(self, program: Module, *, trainset: Sequence[Example], valset: Sequence[Example] | None = None) -> Module:
        rows = check_trainset(trainset, self.name)
        val = list(valset) if valset else rows
        paths = [path for path, _ in program.named_predictors()]
        if not paths:
            raise ConfigError(f"{self.name}: the program has no predictors to optimize")
        budget = self.budget(len(val))
        batch = min(self.minibatch_size, len(rows))
        if budget < 2 * len(val) + 2 * batch:
            raise ConfigError(f"{self.name}: max_metric_calls={budget} cannot pay for the valset evaluation of the "
                              f"program as given ({len(val)} rows), one reflection step (2 x {batch} minibatch rows) "
                              f"and the valset evaluation of a kept child: give at least {2 * len(val) + 2 * batch}")
        reflections = (budget - len(val)) // (2 * batch)
        start = self._start(None)
        assert self.report is not None
        self.report.estimated_calls = budget * len(paths) + reflections
        self.log(f"estimated at most {self.report.estimated_calls} LM calls: a budget of {budget} metric calls "
                 f"(program runs) x {len(paths)} predictor{'s' if len(paths) != 1 else ''} + at most "
                 f"{reflections} reflection calls; cached answers cost none")
        self.base = program.deepcopy()
        self.paths = paths
        self.rng = random.Random(self.seed)
        self.pool = [{p: pred.signature.instructions for p, pred in self.base.named_predictors()}]
        self.parents = [()]
        self.history = []
        self.metric_calls = 0
        with track_usage() as usage:
            self.val_scores = [[r.score for r in self._run(self._build(self.pool[0]), val)]]
            self.log(f"candidate 0 (as given): {self._mean(0):.1f} on the valset")
            self._evolve(rows, val, budget, batch)
        best = best_mean(self.val_scores)
        weights = frontier(self.val_scores)
        for k, instructions in enumerate(self.pool):
            self.report.candidates.append(Candidate(
                f"candidate {k}" + (f" (from {', '.join(map(str, self.parents[k]))})" if self.parents[k] else
                                    " (as given)"),
                round(self._mean(k), 2), details={"instructions": instructions, "parents": list(self.parents[k]),
                                                  "frontier_rows": weights.get(k, 0)}))
        self.report.best = best
        self.report.notes.append(f"{self.metric_calls} metric calls of a budget of {budget}; "
                                 f"{len(self.pool)} candidates, frontier {sorted(weights)}")
        self._finish(start, usage)
        self.log(f"best: candidate {best} with {self._mean(best):.1f} on the valset "
                 f"({self.metric_calls} metric calls)")
        return self._build(self.pool[best])

    def _mean(self, k: int) -> float:
        scores = self.val_scores[k]
        return 100 * sum(scores) / len(scores) if scores else 0.0

    def _build(self, instructions: Instructions) -> Module:
        candidate = self.base.deepcopy()
        for path, predictor in candidate.named_predictors():
            predictor.signature = predictor.signature.with_instructions(instructions[path])
        return candidate

    # ---- the loop -----------------------------------------------------------------------
    def _evolve(self, rows: list[Example], val: list[Example], budget: int, batch: int) -> None:
        order: list[Example] = []
        next_predictor = [0]
        merges_due = merges_done = 0
        tried: set[tuple[int, int, int]] = set()
        iteration = 0
        while True:
            iteration += 1
            if self.use_merge and merges_due and merges_done < self.max_merge_invocations:
                merges_due -= 1
                if self.metric_calls + len(val) <= budget and self._merge(val, tried, iteration):
                    merges_done += 1
                    continue
            if self.metric_calls + 2 * batch + len(val) > budget:
                break
            if self.candidate_selection == "pareto":
                parent = select_parent(self.val_scores, self.rng)
            else:
                parent = best_mean(self.val_scores)
            while len(next_predictor) < len(self.pool):
                next_predictor.append(0)
            path = self.paths[next_predictor[parent] % len(self.paths)]
            next_predictor[parent] += 1
            if len(order) < batch:  # epochs over a shuffled trainset
                extra = list(rows)
                self.rng.shuffle(extra)
                order += extra
            minibatch, order = order[:batch], order[batch:]
            parent_program = self._build(self.pool[parent])
            parent_runs = self._run(parent_program, minibatch)
            record: dict[str, Any] = {"iteration": iteration, "kind": "reflect", "parent": parent, "predictor": path,
                                      "parent_score": sum(r.score for r in parent_runs)}
            self.history.append(record)
            if self.skip_perfect_score and all(r.score >= self.perfect_score for r in parent_runs):
                record["outcome"] = "skipped: parent perfect on the minibatch"
                continue
            predictor = dict(parent_program.named_predictors())[path]
            proposal = self._reflect(predictor, parent_runs, iteration)
            record["proposal"] = proposal
            if not proposal or proposal == self.pool[parent][path]:
                record["outcome"] = "no new instruction"
                self.log(f"iteration {iteration}: candidate {parent} / {path}: no new instruction")
                continue
            child = {**self.pool[parent], path: proposal}
            child_runs = self._run(self._build(child), minibatch)
            record["child_score"] = sum(r.score for r in child_runs)
            accepted = record["child_score"] > record["parent_score"]
            record["outcome"] = "accepted" if accepted else "rejected"
            self.log(f"iteration {iteration}: candidate {parent} / {path}: minibatch {record['parent_score']:g} -> "
                     f"{record['child_score']:g} {record['outcome']}: {proposal[:80]!r}")
            if accepted:
                self._add(child, (parent,), [r.score for r in self._run(self._build(child), val)])
                merges_due += 1

    def _add(self, instructions: Instructions, parents: tuple[int, ...], scores: list[float]) -> None:
        self.pool.append(instructions)
        self.parents.append(parents)
        self.val_scores.append(scores)
        k = len(self.pool) - 1
        self.log(f"candidate {k} (from {', '.join(map(str, parents))}): {self._mean(k):.1f} on the valset; "
                 f"frontier {sorted(frontier(self.val_scores))}")

    def _reflect(self, predictor: Predictor, runs: list[Rollout], iteration: int) -> str:
        reflector = lmdsl.Predict(ReflectInstruction, temperature=self.reflection_temperature,
                                  rollout_id=f"gepa-{self.seed}-{iteration}", max_tokens=self.reflection_max_tokens)
        scope = lmdsl.context(lm=self.reflection_lm) if self.reflection_lm is not None else contextlib.nullcontext()
        with scope:
            try:
                reply = reflector(current_instruction=predictor.signature.instructions,
                                  examples_with_feedback=render_examples(runs, predictor))
            except LmdslError as exc:
                self.log(f"reflection skipped ({type(exc).__name__}: {str(exc)[:120]})")
                return ""
        return clean_instruction(reply.new_instruction)

    # ---- merge --------------------------------------------------------------------------
    def _ancestors(self, k: int) -> set[int]:
        seen: set[int] = set()
        todo = list(self.parents[k])
        while todo:
            a = todo.pop()
            if a not in seen:
                seen.add(a)
                todo += self.parents[a]
        return seen

    def find_merge(self, tried: set[tuple[int, int, int]]) -> tuple[int, int, int, Instructions] | None:
        """Two frontier candidates with a common ancestor that changed different predictors, and
        their combination: each predictor from the side that changed it (both: the better mean)."""
        front = sorted(frontier(self.val_scores))
        pairs = [(i, j) for i in front for j in front if i < j]
        self.rng.shuffle(pairs)
        for i, j in pairs:
            up_i, up_j = self._ancestors(i), self._ancestors(j)
            if i in up_j or j in up_i:
                continue
            for a in sorted(up_i & up_j, key=lambda a: (-self._mean(a), a)):
                if (i, j, a) in tried:
                    continue
                merged = {}
                for p in self.paths:
                    mine, theirs, old = self.pool[i][p], self.pool[j][p], self.pool[a][p]
                    if mine == old:
                        merged[p] = theirs
                    elif theirs == old:
                        merged[p] = mine
                    else:
                        merged[p] = mine if self._mean(i) >= self._mean(j) else theirs
                tried.add((i, j, a))
                if merged not in self.pool:
                    return i, j, a, merged
        return None

    def _merge(self, val: list[Example], tried: set[tuple[int, int, int]], iteration: int) -> bool:
        found = self.find_merge(tried)
        if found is None:
            return False
        i, j, a, merged = found
        si, sj = self.val_scores[i], self.val_scores[j]
        differ = [r for r in range(len(val)) if si[r] != sj[r]]
        same = [r for r in range(len(val)) if si[r] == sj[r]]
        self.rng.shuffle(differ)
        self.rng.shuffle(same)
        subsample = sorted((differ + same)[: self.merge_subsample])
        program = self._build(merged)
        runs = self._run(program, [val[r] for r in subsample])
        score = sum(r.score for r in runs)
        need = max(sum(si[r] for r in subsample), sum(sj[r] for r in subsample))
        accepted = score >= need
        self.history.append({"iteration": iteration, "kind": "merge", "parents": (i, j), "ancestor": a,
                             "child_score": score, "parent_score": need,
                             "outcome": "accepted" if accepted else "rejected"})
        self.log(f"iteration {iteration}: merge of {i} and {j} (ancestor {a}): {score:g} vs {need:g} on "
                 f"{len(subsample)} valset rows, {'accepted' if accepted else 'rejected'}")
        if accepted:
            scores = dict(zip(subsample, (r.score for r in runs)))
            rest = [r for r in range(len(val)) if r not in scores]
            scores.update(zip(rest, (r.score for r in self._run(program, [val[r] for r in rest]))))
            self._add(merged, (i, j), [scores[r] for r in range(len(val))])
        return True

    # ---- running ------------------------------------------------------------------------
    def _run(self, program: Module, rows: list[Example]) -> list[Rollout]:
        threads = self.num_threads or int(settings.get("num_threads"))
        self.metric_calls += len(rows)
        runs = parallel_map(lambda ex: self._rollout(program, ex), rows, num_threads=threads)
        return [r for r in runs if r is not None]

    def _rollout(self, program: Module, example: Example) -> Rollout:
        with tracing() as trace:
            try:
                prediction = call_program(program, example)
            except Exception as exc:  # a failed run scores 0 and tells the reflection LM why
                error = describe_error(exc)
                return Rollout(example, 0.0, f"the program raised {error}", list(trace), error)
            try:
                value = call_metric(self.metric, example, prediction, trace)
                score, text = split_feedback(value)
            except Exception as exc:
                name = getattr(self.metric, "__name__", type(self.metric).__name__)
                raise MetricError(f"metric {name} raised {describe_error(exc)} on {example!r}") from exc
        return Rollout(example, score, text or "", list(trace))
