"""Built-in predictor modules."""

from lmdsl.predict.chain_of_thought import ChainOfThought
from lmdsl.predict.predict import Predict
from lmdsl.predict.typed_function import TypedFunction, signature

__all__ = ["ChainOfThought", "Predict", "TypedFunction", "signature"]
