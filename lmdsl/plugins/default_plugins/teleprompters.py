"""Built-in optimizers."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_teleprompters(register):
    from lmdsl import teleprompt

    register("labeled-few-shot", teleprompt.LabeledFewShot)
    register("bootstrap", teleprompt.BootstrapFewShot)
    register("random-search", teleprompt.BootstrapFewShotWithRandomSearch)
    register("knn", teleprompt.KNNFewShot)
    register("ensemble", teleprompt.Ensemble)
    register("bootstrap-finetune", teleprompt.BootstrapFinetune)
    register("calibrate", teleprompt.Calibrate)
