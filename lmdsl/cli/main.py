"""``lmdsl``: compile, evaluate, run and inspect programs; list plugins.

Usage errors exit 2 with a hint, runtime failures exit 1 with one line (a traceback only
with --debug). Progress goes to stderr so stdout stays clean for results and --json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import click

from lmdsl.cli.loading import file_options, is_compiled_file, load_target, program_chosen, show_file
from lmdsl.cli.logs import attach_log_handler, verbosity_options
from lmdsl.cli.observe import (
    check_outputs,
    report_option,
    results_option,
    trace_options,
    write_compile_report,
    write_evaluation_outputs,
)
from lmdsl.cli.options import check_options, executor_options, parse_pairs, recordable
from lmdsl.cli.output import check_output, fail_if_all_failed, final_path, force_option, refuse_wrappers
from lmdsl.cli.pipeline import check_teachers, plan_optimizers, stage_rows
from lmdsl.telemetry import record_phases

if TYPE_CHECKING:
    from lmdsl.primitives import Example
    from lmdsl.program import Module


class LmdslGroup(click.Group):
    """Turns lmdsl errors into one-line messages with the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from lmdsl.errors import DataError, LmdslError, LoadError, SignatureError
        from lmdsl.utils.secrets import scrub

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted: finished LM calls are cached; re-run the same command to resume", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            usage = isinstance(exc, (DataError, LoadError, SignatureError))  # bad input files or programs
            if not isinstance(exc, LmdslError):
                message = f"{type(exc).__name__}: {exc}"
            else:
                message = str(exc)
            click.echo(f"Error: {scrub(message)}", err=True)
            if not (ctx.obj and ctx.obj.get("debug")):
                click.echo("(run with --debug for a traceback)", err=True)
            ctx.exit(2 if usage else 1)


@click.group(cls=LmdslGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--strict", is_flag=True, help="Fail when a plugin cannot be loaded (LMDSL_STRICT_PLUGINS=1).")
@verbosity_options
@click.version_option(package_name="lmdsl")
@click.pass_context
def cli(ctx: click.Context, debug: bool, strict: bool, verbose: int, quiet: bool) -> None:
    """Program language models, don't prompt them."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    attach_log_handler(ctx, verbose, quiet)
    if strict:
        os.environ["LMDSL_STRICT_PLUGINS"] = "1"
        from lmdsl.plugins import plugin_manager

        plugin_manager().strict = True  # also when the manager already exists (nothing is loaded yet)


def lm_option(f: Any) -> Any:
    # --api-base and --constrain refine --lm; kept in the click context so commands need no parameters.
    f = click.option("--constrain", type=click.Choice(["auto", "gbnf", "json_schema", "vllm", "ollama", "none"]),
                     expose_value=False, callback=_remember_lm_option, is_eager=True,
                     help="How --lm's replies are constrained (default auto: chosen by provider/server).")(f)
    f = click.option("--api-base", "api_base", metavar="URL", expose_value=False, callback=_remember_lm_option,
                     is_eager=True, help="Endpoint of an OpenAI-compatible server for --lm, "
                     "e.g. --lm openai/my-model --api-base http://127.0.0.1:8080/v1.")(f)
    return click.option("--lm", "lm", metavar="MODEL", help="Model, e.g. local/smollm2 or openai/gpt-4o-mini "
                        "(default: $LMDSL_LM, else the embedded model).")(f)


def _remember_lm_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        ctx.meta[f"lmdsl.{param.name}"] = value


def _lm_from_options(lm: str) -> Any:
    """``LM(lm)`` with the --api-base / --constrain given alongside --lm."""
    import lmdsl

    meta = click.get_current_context().meta
    options = {key: meta[f"lmdsl.{key}"] for key in ("api_base", "constrain") if f"lmdsl.{key}" in meta}
    return lmdsl.LM(lm, **options)


def threads_option(f: Any) -> Any:
    return click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
                        help="Parallel program runs.")(f)


def retriever_options(f: Any) -> Any:
    f = click.option("-R", "retriever_opts", multiple=True, metavar="KEY=VALUE",
                     help="Retriever option, e.g. -R corpus=data/corpus.jsonl.")(f)
    return click.option("--retriever", metavar="NAME", help="A registered retriever (bm25, plugins...).")(f)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def _setup(lm: str | None, threads: int, retriever: str | None = None, retriever_opts: tuple[str, ...] = (),
           module: Any = None) -> None:
    import lmdsl
    from lmdsl.errors import PluginError
    from lmdsl.lm.default import model_from_env

    settings: dict[str, Any] = {"num_threads": threads}
    meta = click.get_current_context().meta
    if not lm and any(key in meta for key in ("lmdsl.api_base", "lmdsl.constrain")):
        raise click.UsageError("--api-base and --constrain refine --lm: give --lm MODEL too (e.g. --lm openai/my-model)")
    if lm:
        settings["lm"] = _lm_from_options(lm)
    elif module is not None and getattr(module, "lm", None) is not None and not model_from_env():
        settings["lm"] = module.lm
    if retriever:
        opts = parse_pairs(retriever_opts, "-R")
        try:
            factory = lmdsl.plugin_manager().registry("retrievers").get(retriever)
        except PluginError as exc:
            raise click.UsageError(str(exc)) from None
        settings["retriever"] = factory(**check_options(factory, opts, f"retriever {retriever!r}"))
    elif retriever_opts:
        raise click.UsageError("-R needs --retriever NAME")
    elif module is not None and getattr(module, "retriever", None) is not None:
        settings["retriever"] = module.retriever
    lmdsl.configure(**settings)


def _load_target(target: str) -> tuple[Any, Any, str, dict[str, Any] | None]:
    """(module, program, program target, saved state) for a target or a compiled .json file;
    a compiled file never picks the code to run (see cli/loading.py)."""
    loaded = load_target(target, lm=click.get_current_context().params.get("lm"))
    return loaded.module, loaded.program, loaded.program_target, loaded.state


@overload
def _dataset(path: str | None, module: Any, names: tuple[str, ...], program: Module, what: str,
             required: Literal[True] = True) -> list[Example]: ...
@overload
def _dataset(path: str | None, module: Any, names: tuple[str, ...], program: Module, what: str,
             required: bool) -> list[Example] | None: ...
def _dataset(path: str | None, module: Any, names: tuple[str, ...], program: Module, what: str,
             required: bool = True) -> list[Example] | None:
    from lmdsl.cli.targets import forward_inputs
    from lmdsl.data import load_examples, to_examples

    req, opt = forward_inputs(program)
    if path:
        return load_examples(path, req, opt)
    for name in names:
        rows = getattr(module, name, None) if module is not None else None
        if rows is not None:
            rows = rows() if callable(rows) else rows
            return to_examples(list(rows), req, opt, f"{module.__name__}.{name}")
    if required:
        raise click.UsageError(f"no {what}: pass --{what} PATH or define `{names[0]}` in the program's module")
    return None


def _metric(ref: str | None, module: Any) -> Any:
    from lmdsl.cli.targets import resolve_metric

    if ref:
        return resolve_metric(ref)
    metric = getattr(module, "metric", None)
    if metric is None:
        raise click.UsageError("no metric: pass --metric NAME|module:function or define `metric` in the module")
    return metric


def _emit(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@cli.command("compile")
@click.argument("target")
@file_options
@force_option
@click.option("--trainset", type=click.Path(dir_okay=False), help="JSONL/JSON rows (default: module's `trainset`).")
@click.option("--valset", type=click.Path(dir_okay=False), help="Rows to score candidates on (default: `valset`/`devset`).")
@click.option("--metric", help="Registered metric name or module:function (default: module's `metric`).")
@click.option("--optimizer", default="random-search", show_default=True,
              help="A registered optimizer, or several run in turn: few-shot,bootstrap-finetune,calibrate.")
@click.option("-O", "optimizer_opts", multiple=True, metavar="KEY=VALUE", help="Optimizer option (repeatable).")
@lm_option
@threads_option
@executor_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write the compiled program.")
@retriever_options
@json_option
@report_option
@trace_options
def compile_cmd(target: str, trainset: str | None, valset: str | None, metric: str | None, optimizer: str,
                optimizer_opts: tuple[str, ...], lm: str | None, threads: int, seed: int, output: str | None,
                retriever: str | None, retriever_opts: tuple[str, ...], as_json: bool,
                report_html: str | None = None) -> None:
    """Compile TARGET (pkg.module:Program or path/file.py:Program) against a metric."""
    import time

    from lmdsl.errors import ConfigError
    from lmdsl.evaluate import Evaluate
    from lmdsl.lm.default import current_lm
    from lmdsl.utils.usage import track_usage

    check_outputs(report_html)
    module, program, program_target, state = _load_target(target)
    output_plan = check_output(output or _default_output(target, program_target, optimizer, compiled_file=state is not None),
                               inputs=(trainset, valset))  # the input compiled file may be improved in place
    plan = plan_optimizers(optimizer, optimizer_opts)  # one optimizer or a chain: a,b,c (see pipeline.py)
    refuse_wrappers(plan.stages, program_target)
    train = _dataset(trainset, module, ("trainset",), program, "trainset")
    val = _dataset(valset, module, ("valset", "devset"), program, "valset", required=False)
    if val is None:
        click.echo("warning: no valset; scoring on the trainset (scores will be optimistic)", err=True)
        val = train
    metric_fn = _metric(metric, module)
    _setup(lm, threads, retriever, retriever_opts, module)
    try:  # impossible settings (num_candidate_programs=-3) are usage errors, found before any LM call
        tp, options = plan.build({"metric": metric_fn, "num_threads": threads, "seed": seed})
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    check_teachers(tp, program)
    start = time.perf_counter()
    evaluate = Evaluate(val, metric_fn, num_threads=threads, max_errors=len(val) + 1, label="baseline")
    with track_usage() as usage, record_phases() as phases:
        baseline = evaluate(program)
        fail_if_all_failed(baseline, "baseline (nothing was compiled or written)")
        compiled = tp.compile(program, trainset=train, valset=val)
        _check_saveable(compiled, program, optimizer, program_target)
        evaluate.label = "compiled"
        final = evaluate(compiled)
        fail_if_all_failed(final, "compiled program (not written)")
    wall = time.perf_counter() - start
    out = str(final_path(output_plan, final.score))
    report = getattr(tp, "report", None)
    compiled.save(out, target=_portable(program_target, out), metadata={
        "optimizer": optimizer, "options": recordable(options),
        "baseline_score": baseline.score, "score": final.score, "valset_size": len(val),
        "trainset_size": len(train), "lm": getattr(current_lm(), "model", None),
    })
    result = {
        "baseline_score": baseline.score, "score": final.score, "lm_calls": usage.lm_calls,
        "cached_calls": usage.cached_calls, "tokens": usage.total_tokens, "wall_time": round(wall, 2),
        "output": out, "optimizer": optimizer, "valset_size": len(val),
        "report": report.to_dict() if report is not None else None,
    }
    if report_html:
        write_compile_report(report_html, target=target, optimizer=optimizer, options=options, baseline=baseline,
                             final=final, program=compiled, report=report, phases=phases,
                             trainset_size=len(train), metric=metric_fn, wall_time=wall, output=out)
    if as_json:
        _emit(result)
        return
    rows = [("baseline score", f"{baseline.score:.1f}"), ("compiled score", f"{final.score:.1f}"),
            ("valset size", str(len(val))), ("LM calls", f"{usage.lm_calls} (+{usage.cached_calls} from cache)"),
            ("tokens", str(usage.total_tokens)), ("wall time", f"{wall:.1f} s"), ("saved to", out)]
    rows[1:1] = stage_rows(report)
    _table(rows)


def _default_output(target: str, program_target: str, optimizer: str, compiled_file: bool) -> str:
    """``Program.compiled.json``; compiling a compiled file again never overwrites it by default
    (``Program.compiled.json`` -> ``Program.compiled.calibrate.json``)."""
    if compiled_file:
        return str(Path(target).with_suffix(f".{optimizer}.json"))
    return f"{program_target.rpartition(':')[2]}.compiled.json"


def _check_saveable(compiled: Module, program: Module, optimizer: str, target: str) -> None:
    """A compiled .json holds the target's predictors' state; a wrapper program (KNN, Ensemble) does not fit."""
    paths = [p for p, _ in program.named_predictors()]
    if type(compiled) is not type(program) or [p for p, _ in compiled.named_predictors()] != paths:
        raise click.ClickException(
            f"optimizer {optimizer!r} returns a {type(compiled).__name__} wrapping the program, which a "
            f"compiled .json for {target} cannot hold; use it from Python (optimizer.compile(program, ...))"
        )


def _portable(target: str, out: str) -> str:
    """Store a file target relative to the compiled file's folder, so that the pair can be
    moved together and used from any working directory."""
    module, _, attr = target.rpartition(":")
    if module.endswith(".py"):
        try:
            module = os.path.relpath(os.path.abspath(module), os.path.dirname(os.path.abspath(out)))
        except ValueError:  # another drive (Windows): keep it absolute
            module = os.path.abspath(module)
    return f"{module}:{attr}"


def _table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


@cli.command("evaluate")
@click.argument("target")
@file_options
@click.option("--devset", type=click.Path(dir_okay=False), help="JSONL/JSON rows (default: module's `devset`/`valset`).")
@click.option("--metric", help="Registered metric name or module:function.")
@lm_option
@threads_option
@executor_options
@retriever_options
@json_option
@results_option
@report_option
@trace_options
def evaluate_cmd(target: str, devset: str | None, metric: str | None, lm: str | None, threads: int,
                 retriever: str | None, retriever_opts: tuple[str, ...], as_json: bool,
                 results_path: str | None = None, report_html: str | None = None) -> None:
    """Score TARGET (a program or a compiled .json) on a devset."""
    from lmdsl.evaluate import Evaluate

    check_outputs(report_html, results_path)
    module, program, _, _ = _load_target(target)
    rows = _dataset(devset, module, ("devset", "valset"), program, "devset")
    metric_fn = _metric(metric, module)
    _setup(lm, threads, retriever, retriever_opts, module)
    with record_phases() as phases:
        result = Evaluate(rows, metric_fn, num_threads=threads, max_errors=len(rows) + 1)(program)
    write_evaluation_outputs(result, target=target, program=program, phases=phases, metric=metric_fn,
                             devset=devset, report_html=report_html, results_path=results_path)
    fail_if_all_failed(result, "evaluate")
    data = {"score": result.score, "n": result.n, "errors": result.errors,
            "lm_calls": result.usage.get("lm_calls"), "wall_time": round(result.wall_time, 2)}
    if as_json:
        _emit(data)
        return
    first_error = next((r.error for r in result.results if r.error), None)
    _table([("score", f"{result.score:.1f}"), ("examples", str(result.n)), ("errors", str(result.errors)),
            ("LM calls", str(data["lm_calls"])), ("wall time", f"{result.wall_time:.1f} s")])
    if first_error:
        click.echo(f"first error: {first_error}", err=True)


@cli.command("run")
@click.argument("target")
@file_options
@click.option("--input", "input_json", help="One JSON object of inputs.")
@click.option("--input-file", type=click.Path(dir_okay=False), help="JSONL rows of inputs; one JSON result per line.")
@lm_option
@retriever_options
@trace_options
def run_cmd(target: str, input_json: str | None, input_file: str | None, lm: str | None, retriever: str | None,
            retriever_opts: tuple[str, ...]) -> None:
    """Run TARGET (a program or a compiled .json) on inputs."""
    from lmdsl.cli.targets import forward_inputs
    from lmdsl.data import read_rows
    from lmdsl.errors import DataError

    if bool(input_json) == bool(input_file):
        raise click.UsageError("give exactly one of --input '{...}' or --input-file rows.jsonl")
    module, program, _, _ = _load_target(target)
    _setup(lm, 1, retriever, retriever_opts, module)
    required, optional = forward_inputs(program)
    if input_json:
        try:
            row = json.loads(input_json)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--input: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise click.UsageError("--input: expected a JSON object")
        rows = [(1, row)]
    else:
        assert input_file is not None  # exactly one of the two, checked above
        rows = read_rows(input_file)
    source = "--input" if input_json else input_file
    for line, row in rows:
        missing = [k for k in required if k not in row]
        if missing:
            raise DataError(f"{source} line {line}: missing input {', '.join(map(repr, missing))}")
        inputs = {k: row[k] for k in required + optional if k in row}
        prediction = program(**inputs)
        _emit(_prediction_dict(prediction))
        sys.stdout.flush()


def _prediction_dict(prediction: Any) -> dict[str, Any]:
    from lmdsl.values.render import to_jsonable

    data = prediction.to_dict() if hasattr(prediction, "to_dict") else {"output": prediction}
    return {k: to_jsonable(v) for k, v in data.items()}


@cli.command("inspect")
@click.argument("target")
@file_options
def inspect_cmd(target: str) -> None:
    """Print each predictor's full prompt template with its demos."""
    from lmdsl.adapters import current_adapter

    if is_compiled_file(target) and not program_chosen():
        show_file(target)  # data only: nothing the file names is imported
        return
    _, program, program_target, state = _load_target(target)
    if state and state.get("metadata"):
        meta = state["metadata"]
        click.echo(f"# {program_target}  (optimizer {meta.get('optimizer')}: "
                   f"{meta.get('baseline_score')} -> {meta.get('score')})")
    for path, predictor in program.named_predictors():
        placeholders = {name: f"{{{name}}}" for name in predictor.signature.inputs}
        click.echo(f"\n=== {path}: {predictor.signature!r} · {len(predictor.demos)} demo(s) ===")
        for message in current_adapter(predictor.adapter).format(predictor.signature, predictor.demos, placeholders):
            click.echo(f"[{message['role']}]")
            click.echo(message["content"])
        bias = getattr(predictor, "label_bias", None)
        if bias is not None:
            shown = ", ".join(f"{label} {value:+.2f}" for label, value in bias.items())
            click.echo(f"[scored, not generated: each label's log-likelihood plus its bias: {shown}]")


@cli.command("plugins")
@json_option
def plugins_cmd(as_json: bool) -> None:
    """List plugins: distribution, version, hooks and what each registered."""
    import lmdsl
    from lmdsl.errors import PluginError
    from lmdsl.plugins.registry import KIND_ALIASES

    manager = lmdsl.plugin_manager()
    try:
        infos = manager.plugins()
    except PluginError as exc:  # --strict: list every failure, then fail
        failed = getattr(exc, "failures", None)
        if not failed:
            raise
        for failure in failed:
            click.echo(f"FAILED {failure.distribution}: {failure.error}")
        raise click.ClickException(f"{len(failed)} plugin(s) failed to load (--strict)") from None
    data = [{"name": i.name, "distribution": i.distribution, "version": i.version, "builtin": i.builtin,
             "hooks": i.hooks, "registered": i.registered} for i in infos]
    failures = [f.__dict__ for f in manager.failures]
    if as_json:
        for info in data:  # the old kind names too, for one release, for scripts that read them
            info["registered"] = {**info["registered"], **{
                old: info["registered"][new] for old, new in KIND_ALIASES.items() if new in info["registered"]}}
        _emit({"plugins": data, "failures": failures})
        return
    for info in data:
        tag = " (built-in)" if info["builtin"] else ""
        click.echo(f"{info['name']}{tag}  [{info['distribution']} {info['version']}]")
        for kind, names in info["registered"].items():
            click.echo(f"    {kind}: {', '.join(names) or '-'}")
    for failure in failures:
        click.echo(f"FAILED {failure['distribution']}: {failure['error']}")


def main() -> None:
    cli(prog_name="lmdsl")
