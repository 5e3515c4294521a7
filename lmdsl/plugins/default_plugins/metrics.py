"""Built-in metrics."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_metrics(register):
    from lmdsl.evaluate import metrics

    register("exact_match", metrics.exact_match)
    register("f1", metrics.f1)
    register("answer_exact_match", metrics.answer_exact_match)
    register("answer_in_passages", metrics.answer_in_passages)
