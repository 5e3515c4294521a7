"""Entry point module: registers the optimizer through lmdsl's public hook, like any plugin."""

import lmdsl


@lmdsl.hookimpl
def lmdsl_register_optimizers(register):
    from lmdsl_mipro.mipro import MIPROv2

    register("mipro", MIPROv2)
