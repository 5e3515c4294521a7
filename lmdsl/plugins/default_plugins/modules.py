"""Built-in modules."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_modules(register):
    from lmdsl.predict import ChainOfThought, Predict

    register("Predict", Predict)
    register("ChainOfThought", ChainOfThought)

    from lmdsl.predict.retrieve import Retrieve

    register("Retrieve", Retrieve)

    from lmdsl.predict.multi_chain_comparison import MultiChainComparison
    from lmdsl.predict.program_of_thought import ProgramOfThought
    from lmdsl.predict.react import ReAct

    register("ReAct", ReAct)
    register("ProgramOfThought", ProgramOfThought)
    register("MultiChainComparison", MultiChainComparison)

    from lmdsl.predict.refine import BestOfN, Refine

    register("BestOfN", BestOfN)
    register("Refine", Refine)
