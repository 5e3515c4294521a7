"""lmdsl-lora: LoRA fine-tuning of a local model for lmdsl's BootstrapFinetune, served back as GGUF."""

from lmdsl_lora.errors import BaseModelError, DatasetError, ModelIntegrityError
from lmdsl_lora.finetune import finetune_lora
from lmdsl_lora.store import read_manifest, verify_model

__all__ = [
    "BaseModelError",
    "DatasetError",
    "ModelIntegrityError",
    "finetune_lora",
    "read_manifest",
    "verify_model",
]
