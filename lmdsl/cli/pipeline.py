"""``--optimizer a,b,c``: build one optimizer, or a chain of them, from the compile command's options.

``-O key=value`` goes to every stage whose constructor names ``key``; a key no stage names
goes to the stages that pass extra options on (``bootstrap-finetune`` hands them to its
finetuner). ``-O stage.key=value`` targets one stage, by name or by position
(``-O bootstrap-finetune.epochs=3``, ``-O 3.step=0.5``). ``few-shot`` is another name for
``random-search``, the default few-shot optimizer.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from lmdsl.cli.options import check_options, parse_pairs, recordable

if TYPE_CHECKING:
    from lmdsl.program import Module

ALIASES = {"few-shot": "random-search"}


@dataclass
class Stage:
    name: str  # as registered
    factory: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    spec: str  # what --optimizer said
    stages: list[Stage]

    @property
    def chained(self) -> bool:
        return len(self.stages) > 1

    def build(self, defaults: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(optimizer, its options for the compiled file's metadata). ``defaults`` (metric,
        num_threads, seed) fill the options a stage accepts and was not given."""
        built = []
        for stage in self.stages:
            accepted = _params(stage.factory)
            for key, value in defaults.items():
                if key in accepted and key not in stage.options:
                    stage.options[key] = value
            built.append(stage.factory(**stage.options))
        if not self.chained:
            return built[0], self.stages[0].options
        from lmdsl.optimizers.pipeline import Pipeline

        pipeline = Pipeline(built, defaults.get("metric"), num_threads=defaults.get("num_threads"))
        return pipeline, {f"{i}.{s.name}": recordable(s.options)
                          for i, s in enumerate(self.stages, 1)}


def check_teachers(optimizer: Any, program: Module) -> None:
    """Load every teacher file against the program now, so a file that does not fit fails
    before the baseline is scored and long before any training."""
    for stage in getattr(optimizer, "stages", [optimizer]):
        teacher_for = getattr(stage, "teacher_for", None)
        if teacher_for is not None:
            teacher_for(program)


def plan_optimizers(spec: str, pairs: tuple[str, ...]) -> Plan:
    """Look up every stage of ``spec`` and route and check the ``-O`` options."""
    import lmdsl
    from lmdsl.errors import PluginError

    names = [n.strip() for n in spec.split(",")]
    if not all(names):
        raise click.UsageError(f"--optimizer {spec!r}: empty stage name (use e.g. few-shot,bootstrap-finetune)")
    registry = lmdsl.plugin_manager().registry("optimizers")
    stages = []
    for name in names:
        try:
            stages.append(Stage(ALIASES.get(name, name), registry.get(ALIASES.get(name, name))))
        except PluginError as exc:
            raise click.UsageError(str(exc)) from None
    options = parse_pairs(pairs, "-O")
    if len(stages) == 1:
        stages[0].options = check_options(stages[0].factory, options, f"optimizer {stages[0].name!r}")
        return Plan(spec, stages)
    routed: list[dict[str, Any]] = [{} for _ in stages]
    for key, value in options.items():
        for i in _targets(key, stages, spec):
            routed[i][key.partition(".")[2] if "." in key else key] = value
    for stage, opts in zip(stages, routed, strict=True):
        stage.options = check_options(stage.factory, opts, f"optimizer {stage.name!r}")
    return Plan(spec, stages)


def _targets(key: str, stages: list[Stage], spec: str) -> list[int]:
    if "." in key:
        which, _, _ = key.partition(".")
        wanted = which.replace("_", "-")
        hits = [i for i, s in enumerate(stages)
                if wanted in (s.name, str(i + 1)) or ALIASES.get(wanted) == s.name]
        if not hits:
            raise click.UsageError(f"-O {key}: no stage {which!r} in --optimizer {spec} "
                                   f"(stages: {', '.join(s.name for s in stages)}, or 1-{len(stages)})")
        return hits
    named = [i for i, s in enumerate(stages) if key in _params(s.factory)]
    if named:
        return named
    extra = [i for i, s in enumerate(stages) if _takes_kwargs(s.factory)]
    if extra:
        return extra
    raise click.UsageError(f"-O {key}: no stage of --optimizer {spec} has that option")


def stage_rows(report: Any) -> list[tuple[str, str]]:
    """One table row per pipeline stage: its valset score."""
    if report is None or getattr(report, "optimizer", None) != "pipeline":
        return []
    return [(f"stage {c.name}", "-" if c.score is None else f"{c.score:.1f}") for c in report.candidates[1:]]


def _params(factory: Any) -> set[str]:
    try:
        return {n for n, p in inspect.signature(factory).parameters.items() if p.kind is not p.VAR_KEYWORD}
    except (TypeError, ValueError):
        return set()


def _takes_kwargs(factory: Any) -> bool:
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False
