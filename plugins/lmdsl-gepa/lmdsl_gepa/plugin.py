"""Entry point module: registers the optimizer through lmdsl's public hook, like any plugin."""

import lmdsl


@lmdsl.hookimpl
def lmdsl_register_optimizers(register):
    from lmdsl_gepa.gepa import GEPA

    register("gepa", GEPA)
