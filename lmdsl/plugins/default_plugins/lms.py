"""The embedded local model, installed into litellm as the ``local/`` provider."""

from lmdsl.hookspecs import hookimpl


def _install_local() -> None:
    from lmdsl.lm.local import install_local_provider

    install_local_provider()


@hookimpl
def lmdsl_register_lms(register):
    register("local", _install_local)
