"""Loading a captioner by its registry name, on the device and quantization asked for.

Nothing here goes online: the model is looked up with the registry's ``locate`` (a
registered folder or the Hugging Face cache), and a missing one raises ``ModelMissing``
with the two commands that install it.
"""

from __future__ import annotations

from typing import Any

from crisisdesk.core.captions.base import Captioner, CaptionError
from crisisdesk.core.captions.loading import QUANTS, check_gpu_memory
from crisisdesk.core.models.registry import get_spec, locate

DEFAULT_CUDA = "llava-1.5-7b"  # the method's captioner, in 4-bit nf4
DEFAULT_CPU = "llava-interleave-0.5b"  # 0.9B parameters: minutes, not hours, per 100 items


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda:0`` when a GPU is usable, else ``cpu``; ``cuda`` -> ``cuda:0``.
    Asking for CUDA without a GPU is an error, never a silent fall back to the CPU."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if not device.startswith("cuda"):
        raise CaptionError(f"--device must be auto, cpu, cuda or cuda:N; not {device!r}")
    if not torch.cuda.is_available():
        raise CaptionError(f"--device {device}: no CUDA GPU is usable here (torch "
                           f"{torch.__version__}, CUDA build: {torch.version.cuda}); "
                           "use --device cpu or auto")
    return "cuda:0" if device == "cuda" else device


def resolve_quant(quant: str, cuda_quant: str | None, device: str) -> str:
    """``auto`` -> the model's CUDA default (4-bit for the 7B models) on a GPU, none on the
    CPU (4-bit on the CPU saves memory but is slower than fp32)."""
    if quant == "auto":
        return (cuda_quant or "4bit") if device.startswith("cuda") else "none"
    if quant not in QUANTS:
        raise CaptionError(f"--quant must be one of auto, {', '.join(QUANTS)}; not {quant!r}")
    return quant


def captioner_name(model: str, quant: str) -> str:
    """The captioner's name in cache keys: quantization changes the captions, so 4-bit and
    8-bit captions are filed apart from full-precision ones (``llava-1.5-7b@4bit``)."""
    return model if quant == "none" else f"{model}@{quant}"


def load_captioner(name: str | None = None, *, quant: str = "auto", device: str = "auto",
                   max_new_tokens: int = 128, **options: Any) -> Captioner:
    """Load a registered captioner without touching the network.

    ``name`` None: llava-1.5-7b (4-bit) on CUDA, llava-interleave-0.5b on the CPU.
    ``options`` go to :class:`LocalCaptioner` (``batch_size``, ``static_cache``, ``dtype``).
    Raises ModelMissing (how to install it) and CaptionError (bad name, device or
    quantization; not enough free GPU memory, with what would fit).
    """
    device = resolve_device(device)
    name = name or (DEFAULT_CUDA if device.startswith("cuda") else DEFAULT_CPU)
    try:
        spec = get_spec(name)
    except KeyError as exc:
        raise CaptionError(exc.args[0]) from None
    if spec.kind != "captioner":
        raise CaptionError(f"{name} is a {spec.kind} model, not a captioner "
                           "(crisisdesk models list)")
    quant = resolve_quant(quant, spec.cuda_quant, device)
    location = locate(spec)
    if not location.path.is_dir():
        raise CaptionError(f"{name}: {location.path} is a file; a captioner is a model "
                           "folder (config.json, weights, processor files)")
    if device.startswith("cuda"):
        check_gpu_memory(spec, quant, device, location.path)
    from crisisdesk.core.captions.local import LocalCaptioner

    return LocalCaptioner.load(location.path, name=captioner_name(spec.name, quant),
                               device=device, quant=quant, max_new_tokens=max_new_tokens,
                               **options)
