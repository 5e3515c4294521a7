"""Built-in modules."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_modules(register):
    from lmdsl.predict import ChainOfThought, Predict

    register("Predict", Predict)
    register("ChainOfThought", ChainOfThought)

    from lmdsl.predict.retrieve import Retrieve

    register("Retrieve", Retrieve)
