"""Loading a LLaVA-family model folder with transformers: class, dtype, quantization, and
the free-GPU-memory check that runs before anything is put on the GPU.

Quantization goes through bitsandbytes. Only the language model is quantized: the vision
tower, the projector and ``lm_head`` stay in fp16/bf16 because 4-bit image features and
output logits cost caption quality for little memory. transformers 5.x matches
``llm_int8_skip_modules`` against full module paths, so the list names them in full
(``model.vision_tower``, not ``vision_tower``); :func:`check_skipped` verifies after
loading that no quantized layer ended up there (a rename in transformers would otherwise
quantize the vision tower silently).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crisisdesk.core.captions.base import CaptionError
from crisisdesk.core.models.registry import ModelSpec, all_specs

QUANTS = ("4bit", "8bit", "none")
# Full module paths in transformers 5.x LLaVA, LLaVA-NeXT and LLaVA-OneVision models.
SKIP_MODULES = ("model.vision_tower", "model.multi_modal_projector", "lm_head")
MODEL_CLASSES = {
    "llava": "LlavaForConditionalGeneration",
    "llava_next": "LlavaNextForConditionalGeneration",
    "llava_onevision": "LlavaOnevisionForConditionalGeneration",
}
# GB of GPU memory per GB of fp16 weights, plus a fixed share for the CUDA context and the
# activations of a small batch: only for folders without a registry figure.
_WEIGHT_SHARE = {"none": 1.0, "8bit": 0.55, "4bit": 0.32}
_OVERHEAD_GB = 1.0


def model_class(folder: Path) -> Any:
    """The transformers class that loads the model in ``folder`` (from its config.json)."""
    import transformers

    try:
        model_type = json.loads((Path(folder) / "config.json").read_text("utf-8"))["model_type"]
    except (OSError, ValueError, KeyError) as exc:
        raise CaptionError(f"{folder}: not a transformers model folder (config.json: "
                           f"{exc})") from None
    name = MODEL_CLASSES.get(model_type)
    if name is None:
        # Other image-text-to-text models may work; LLaVA-family ones are tested.
        return transformers.AutoModelForImageTextToText
    return getattr(transformers, name)


def torch_dtype(device: str, quant: str, dtype: str | None = None) -> Any:
    """fp16 on CUDA; on the CPU fp32 (bf16 matmuls are slow without AMX), bf16 for 4-bit
    compute. ``dtype`` ("float16", "bfloat16", "float32") overrides."""
    import torch

    if dtype:
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.float16
    return torch.bfloat16 if quant != "none" else torch.float32


def quantization_config(quant: str, compute_dtype: Any) -> Any:
    """The BitsAndBytesConfig for ``quant`` (None for "none")."""
    if quant == "none":
        return None
    from transformers import BitsAndBytesConfig

    skip = list(SKIP_MODULES)
    if quant == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_compute_dtype=compute_dtype,
                                  bnb_4bit_use_double_quant=True, llm_int8_skip_modules=skip)
    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    raise CaptionError(f"--quant must be one of auto, {', '.join(QUANTS)}; not {quant!r}")


def quantized_modules(model: Any) -> list[str]:
    """Names of the model's bitsandbytes (4-bit or 8-bit) linear layers."""
    import bitsandbytes as bnb

    kinds = (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    return [name for name, module in model.named_modules() if isinstance(module, kinds)]


def check_skipped(model: Any) -> None:
    """Raise if quantization reached the vision tower, the projector or lm_head."""
    wrong = [name for name in quantized_modules(model)
             if any(name == p or name.startswith(p + ".") for p in SKIP_MODULES)
             or name.split(".")[-1] == "lm_head" or ".vision_tower." in f".{name}."]
    if wrong:
        raise CaptionError(f"quantization reached layers that must stay unquantized "
                           f"({', '.join(wrong[:3])}...): this transformers version names "
                           f"modules differently; use --quant none")


def load_model(folder: Path, *, device: str, quant: str, dtype: str | None = None) -> Any:
    """Load the model in ``folder`` on ``device`` (``device_map`` needs accelerate)."""
    dtype_ = torch_dtype(device, quant, dtype)
    cls = model_class(folder)
    kwargs: dict[str, Any] = {"dtype": dtype_, "device_map": {"": device}}
    config = quantization_config(quant, dtype_)
    if config is not None:
        kwargs["quantization_config"] = config
    model = cls.from_pretrained(str(folder), **kwargs).eval()
    if config is not None:
        check_skipped(model)
    return model


def weights_gb(folder: Path) -> float:
    """Size of the folder's safetensors weights in GB (10^9 bytes)."""
    return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors")) / 1e9


def need_gb(spec: ModelSpec, quant: str, folder: Path | None) -> float | None:
    """Approximate GPU memory the captioner needs: the registry's figure, else an estimate
    from the weights on disk (assumed fp16), else None (unknown)."""
    if quant in spec.gpu_gb:
        return float(spec.gpu_gb[quant])
    if folder is None or not Path(folder).is_dir():
        return None
    size = weights_gb(folder)
    return size * _WEIGHT_SHARE[quant] + _OVERHEAD_GB if size else None


def check_gpu_memory(spec: ModelSpec, quant: str, device: str, folder: Path | None) -> None:
    """Before loading on CUDA: raise CaptionError saying what fits when the model does not
    fit in the free memory of ``device``."""
    import torch

    need = need_gb(spec, quant, folder)
    if need is None:
        return
    free_bytes, _total = torch.cuda.mem_get_info(torch.device(device))
    free = free_bytes / 1e9
    if need <= free:
        return
    advice = []
    for other_quant in QUANTS:
        other = need_gb(spec, other_quant, folder)
        if other_quant != quant and other is not None and other <= free:
            advice.append(f"--quant {other_quant} (~{other:.1f} GB)")
    smaller = sorted(
        (min(other.gpu_gb.values()), other.name) for other in all_specs().values()
        if other.kind == "captioner" and other.name != spec.name and other.gpu_gb
        and min(other.gpu_gb.values()) <= free)
    advice += [f"a smaller captioner: --captioner {n} (~{gb:.1f} GB)" for gb, n in smaller[:2]]
    advice += ["--server URL (a serving engine on another machine)", "--device cpu (slow)"]
    words = "without quantization" if quant == "none" else f"in {quant}"
    raise CaptionError(f"{spec.name} needs ~{need:.1f} GB of GPU memory {words}, "
                       f"{free:.1f} GB free on {device}: try " + " / ".join(advice))
