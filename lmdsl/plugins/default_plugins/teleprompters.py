"""Built-in optimizers."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_teleprompters(register):
    pass
