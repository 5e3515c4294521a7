"""The CLI's observability options: ``--trace``, ``--trace-content``, ``--report`` and
``evaluate --output``. The commands in main.py stay small; the work happens here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lmdsl.program import Module

TRACE_HELP = ("Write OpenTelemetry spans: to FILE.jsonl, 'console' (stderr), or 'otlp' / 'otlp:URL' "
              "(an OTLP/HTTP collector; default $OTEL_EXPORTER_OTLP_ENDPOINT or localhost:4318). "
              "Also $LMDSL_TRACE.")


def trace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --trace / --trace-content; tracing is set up before the command runs and flushed after."""

    @functools.wraps(command)
    def wrapper(*args: Any, trace: str | None = None, trace_content: bool = False, **kwargs: Any) -> Any:
        if trace or trace_content:
            _start_tracing(trace, trace_content)
        try:
            return command(*args, **kwargs)
        finally:
            if trace:
                from lmdsl import telemetry

                telemetry.flush()

    wrapper = click.option("--trace-content", is_flag=True,
                           help="Record prompts, replies, inputs and outputs in spans (off by default).")(wrapper)
    return click.option("--trace", metavar="FILE.jsonl|console|otlp[:URL]", help=TRACE_HELP)(wrapper)


def report_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--report", "report_html", type=click.Path(dir_okay=False), metavar="FILE.html",
                        help="Write a self-contained HTML report with plots (needs lmdsl[report]).")(command)


def results_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--output", "results_path", type=click.Path(dir_okay=False),
                        metavar="FILE.jsonl|FILE.csv",
                        help="Write one row per example: inputs, outputs, gold, score, error, calls, tokens, "
                             "latency.")(command)


def _start_tracing(trace: str | None, content: bool) -> None:
    import lmdsl
    from lmdsl import telemetry
    from lmdsl.errors import ConfigError

    settings: dict[str, Any] = {"trace_content": content}
    if trace:
        settings["tracing"] = trace
    lmdsl.configure(**settings)
    try:
        telemetry.tracer()  # a bad target or a missing SDK is a usage error, before any work
    except ConfigError as exc:
        raise click.UsageError(f"--trace {trace}: {exc}") from None


def check_outputs(report_html: str | None, results_path: str | None = None) -> None:
    """Refuse a bad path or a missing extra before the (long) run, not after it."""
    import os

    for flag, path, suffixes in (("--report", report_html, (".html", ".htm")),
                                 ("--output", results_path, (".jsonl", ".csv"))):
        if not path:
            continue
        if not path.lower().endswith(suffixes):
            raise click.UsageError(f"{flag} {path}: expected a {' or '.join(suffixes)} file")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise click.UsageError(f"{flag} {path}: folder {folder} does not exist")
    if report_html:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise click.UsageError("--report needs matplotlib: pip install 'lmdsl[report]'") from None


def write_compile_report(path: str, *, target: str, optimizer: str, options: dict[str, Any], baseline: Any,
                         final: Any, program: Module, report: Any, phases: Any, trainset_size: int, metric: Any,
                         wall_time: float, output: str) -> None:
    from lmdsl import report as html_report
    from lmdsl.lm.default import current_lm

    data = html_report.compile_report(
        target=target, optimizer=optimizer, baseline=baseline, final=final, program=program, report=report,
        phases=phases.to_list(), options=options, lm=getattr(current_lm(), "model", None),
        metric=_name(metric), trainset_size=trainset_size, wall_time=wall_time, output=output,
    )
    html_report.write_report(data, path)
    click.echo(f"report written to {path}", err=True)


def write_evaluation_outputs(result: Any, *, target: str, program: Module, phases: Any, metric: Any,
                             devset: str | None, report_html: str | None, results_path: str | None) -> None:
    if results_path:
        result.write(results_path)
        click.echo(f"results written to {results_path}", err=True)
    if report_html:
        from lmdsl import report as html_report
        from lmdsl.lm.default import current_lm

        data = html_report.evaluation_report(target=target, result=result, program=program,
                                             phases=phases.to_list(), lm=getattr(current_lm(), "model", None),
                                             metric=_name(metric), devset=devset)
        html_report.write_report(data, report_html)
        click.echo(f"report written to {report_html}", err=True)


def _name(metric: Any) -> str:
    return getattr(metric, "__name__", None) or type(metric).__name__
