"""Entry point module (``[project.entry-points.lmdsl] lora``): registers the ``lora`` finetuner."""

from __future__ import annotations

from lmdsl import hookimpl
from lmdsl.hookspecs import Register

from lmdsl_lora.finetune import finetune_lora


@hookimpl
def lmdsl_register_finetuners(register: Register) -> None:
    register("lora", finetune_lora)
