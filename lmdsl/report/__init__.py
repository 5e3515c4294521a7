"""The compile / evaluation report: one self-contained HTML page with plots.

``lmdsl compile ... --report report.html`` and ``lmdsl evaluate ... --report report.html``
write it; from Python, build the data with :func:`compile_report` or :func:`evaluation_report`
and write it with :func:`write_report`. Plots need ``pip install 'lmdsl[report]'`` (matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmdsl.report.data import (
    ReportData,
    breakdowns,
    changed_rows,
    failed_rows,
    label_fields,
    predictor_states,
)

if TYPE_CHECKING:
    from lmdsl.program import Module


def compile_report(*, target: str, optimizer: str, baseline: Any, final: Any, program: Module, report: Any = None,
                   phases: list[dict[str, Any]] | None = None, options: dict[str, Any] | None = None,
                   lm: str | None = None, metric: str | None = None, trainset_size: int | None = None,
                   wall_time: float | None = None, output: str | None = None) -> ReportData:
    """What a compile did: ``baseline``/``final`` are the valset :class:`EvaluationResult` of the
    program as given and as compiled, ``report`` the optimizer's :class:`CompileReport`."""
    data = ReportData(title=f"Compile report: {target}", kind="compile", baseline_score=baseline.score,
                      final_score=final.score)
    data.facts = _facts([("program", target), ("optimizer", optimizer), ("options", _options(options)),
                         ("LM", lm), ("metric", metric), ("trainset rows", trainset_size),
                         ("valset rows", len(final.results)), ("saved to", output),
                         ("wall time", f"{wall_time:.1f} s" if wall_time is not None else None)])
    if report is not None:
        for i, c in enumerate(report.candidates):
            data.candidates.append({"name": c.name, "score": c.score, "demos": dict(c.demos),
                                    "details": dict(c.details), "best": i == report.best})
        data.notes += list(report.notes)
    data.predictors = predictor_states(program)
    fields = label_fields(program, final.results)
    if fields:
        data.breakdowns = {"program as given": breakdowns(baseline.results, fields),
                           "compiled": breakdowns(final.results, fields)}
    data.improved, data.worsened = changed_rows(baseline.results, final.results)
    data.phases = list(phases or [])
    usage = dict(getattr(report, "usage", None) or {})
    if report is not None:
        data.estimate = {
            "estimated_calls": report.estimated_calls, "estimated_cost": getattr(report, "estimated_cost", None),
            "calls": usage.get("calls"), "lm_calls": usage.get("lm_calls"), "cost": usage.get("cost"),
            "tokens": usage.get("total_tokens"), "wall_time": round(report.wall_time, 1),
            "note": "The optimizer's estimate counts one LM call per predictor per program run, before cache "
                    "hits and parse re-asks; actual figures are the optimizer's own (the baseline and final "
                    "scoring phases are listed above).",
        }
    return data


def evaluation_report(*, target: str, result: Any, program: Module, phases: list[dict[str, Any]] | None = None,
                      lm: str | None = None, metric: str | None = None, devset: str | None = None) -> ReportData:
    data = ReportData(title=f"Evaluation report: {target}", kind="evaluate", final_score=result.score)
    usage = result.usage or {}
    data.facts = _facts([("program", target), ("LM", lm), ("metric", metric), ("devset", devset),
                         ("rows", result.n), ("rows that raised", result.errors),
                         ("LM calls", f"{usage.get('lm_calls', 0)} (+{usage.get('cached_calls', 0)} from cache)"),
                         ("tokens", usage.get("total_tokens")), ("cost ($)", usage.get("cost")),
                         ("wall time", f"{result.wall_time:.1f} s")])
    data.predictors = predictor_states(program)
    fields = label_fields(program, result.results)
    if fields:
        data.breakdowns = {"this program": breakdowns(result.results, fields)}
    data.failures = failed_rows(result.results)
    data.phases = list(phases or [])
    return data


def write_report(data: ReportData, path: str | Path) -> Path:
    from lmdsl.report.html import render

    path = Path(path)
    path.write_text(render(data), encoding="utf-8")
    return path


def _facts(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in pairs if v is not None and v != ""]


def _options(options: dict[str, Any] | None) -> str | None:
    if not options:
        return None
    return ", ".join(f"{k}={v!r}" for k, v in options.items() if not callable(v))


__all__ = ["ReportData", "compile_report", "evaluation_report", "write_report"]
