"""Built-in optimizers."""

from lmdsl.hookspecs import hookimpl


@hookimpl
def lmdsl_register_optimizers(register):
    from lmdsl import optimizers

    register("labeled-few-shot", optimizers.LabeledFewShot)
    register("bootstrap", optimizers.BootstrapFewShot)
    register("random-search", optimizers.BootstrapFewShotWithRandomSearch)
    register("knn", optimizers.KNNFewShot)
    register("ensemble", optimizers.Ensemble)
    register("bootstrap-finetune", optimizers.BootstrapFinetune)
    register("calibrate", optimizers.Calibrate)
