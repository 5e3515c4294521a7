"""Built-in metrics."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_metrics(register):
    pass
