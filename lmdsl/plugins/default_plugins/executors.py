"""Built-in executors: ``threads`` (the default) and ``ray`` (``pip install 'lmdsl[ray]'``)."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_executors(register):
    from lmdsl.executors.ray import RayExecutor
    from lmdsl.executors.threads import ThreadsExecutor

    register("threads", ThreadsExecutor)
    register("ray", RayExecutor)  # Ray itself is imported at the executor's first run
