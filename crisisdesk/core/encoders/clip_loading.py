"""Finding, loading and preparing an open_clip CLIP for :class:`ClipEncoder`.

What a model route points at (:func:`model_source`), which models crisisdesk can window
texts for (:func:`check_tokenizer_supported`), the message of a failed load
(:func:`load_failure`), and how a loaded model is made faster for inference without
changing what it computes (:func:`inference_precision`, :func:`fold_quick_gelu`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisisdesk.core.encoders.base import EncoderError

if TYPE_CHECKING:
    import torch

#: Routes whose ``source`` is a checkpoint file / a hub-style folder.
FILE_ROUTES = ("file", "hub-cache")
FOLDER_ROUTES = ("folder", "package")
ROUTES = ("pretrained", *FILE_ROUTES, *FOLDER_ROUTES)
#: QuickGELU(x) = x * sigmoid(QUICK_GELU_SCALE * x) (OpenAI's CLIP).
QUICK_GELU_SCALE = 1.702


def inference_precision(device: torch.device) -> str:
    """open_clip's ``precision`` for encoding on ``device``.

    On CUDA, "pure_fp16": every weight in fp16, LayerNorms included. open_clip's "fp16"
    keeps LayerNorm weights in fp32 and wraps each LayerNorm in casts of the whole
    activation to fp32 and back (``LayerNormFp32``): two extra passes over memory per
    norm, 50 norms in a ViT-L-14, for nothing, since CUDA's layer norm already accumulates
    fp16 input in fp32. It is also how ``shared/bench/gpu_anchor.py`` runs the models
    (``.to(device, torch.float16)``). Elsewhere fp32: CPUs are slow at fp16.
    """
    return "pure_fp16" if device.type == "cuda" else "fp32"


def fold_quick_gelu(model: Any) -> int:
    """Replace each MLP's QuickGELU by SiLU, rescaling its linear maps to match; the
    number of MLPs changed.

    ``x * sigmoid(1.702 x)`` is three element-wise passes over the MLP's widest
    activation (open_clip itself notes it is slower than GELU or SiLU), which on a GPU are
    memory-bound. With ``y = 1.702 x``, ``QuickGELU(x) = SiLU(y) / 1.702``, so scaling
    ``c_fc``'s weight and bias by 1.702 and ``c_proj``'s weight by 1 / 1.702 gives the
    same function with one fused SiLU. Products are taken in fp32 and rounded once, so
    fp16 weights lose nothing more than their own rounding.
    """
    import torch
    from open_clip.transformer import QuickGELU
    from torch import nn

    folded = 0
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        fc, act, proj = (getattr(module, name, None) for name in ("c_fc", "gelu", "c_proj"))
        if not (isinstance(act, QuickGELU) and isinstance(fc, nn.Linear)
                and isinstance(proj, nn.Linear)):
            continue
        with torch.no_grad():
            for param, factor in ((fc.weight, QUICK_GELU_SCALE), (fc.bias, QUICK_GELU_SCALE),
                                  (proj.weight, 1.0 / QUICK_GELU_SCALE)):
                if param is not None:
                    param.copy_(param.float() * factor)
        module.gelu = nn.SiLU().train(act.training)  # keep the model's mode
        folded += 1
    return folded


def resolve_device(device: str) -> torch.device:
    """The torch device for ``device`` ("cpu", "cuda", "cuda:N"), with CUDA's index made
    explicit; an EncoderError when it is unknown or CUDA is asked for and absent (never
    a silent fall back to the CPU)."""
    import torch

    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise EncoderError(f"unknown device {device!r} (use cpu, cuda or cuda:N)") from exc
    if torch_device.type == "cuda":
        if not torch.cuda.is_available():
            raise EncoderError(f"device {device!r} asked for, but CUDA is not available "
                               "here; use device 'cpu'")
        if torch_device.index is None:
            torch_device = torch.device("cuda", torch.cuda.current_device())
    return torch_device


def model_source(arch: str | None, route: str, source: str | Path
                  ) -> tuple[str, str | None, bool]:
    """(open_clip model name, pretrained tag or file, force QuickGELU) for a route."""
    import open_clip

    if route not in ROUTES:
        raise EncoderError(f"unknown model route {route!r}; expected one of {ROUTES}")
    path = Path(source).expanduser() if route != "pretrained" else None
    if path is not None and path.is_dir() and route in FILE_ROUTES and \
            (path / "open_clip_config.json").is_file():
        route = "folder"  # a hub snapshot folder: it carries its own config
    if route in FOLDER_ROUTES:
        assert path is not None
        if not path.is_dir():
            raise EncoderError(f"{path}: no such folder")
        if not (path / "open_clip_config.json").is_file():
            raise EncoderError(f"{path} has no open_clip_config.json: not an open_clip "
                               "model folder (a checkpoint file needs its architecture)")
        if not any(any(path.glob(pattern)) for pattern in ("*.safetensors", "*.bin", "*.pth")):
            raise EncoderError(f"{path} has no weights (open_clip_model.safetensors or "
                               "open_clip_pytorch_model.bin)")
        return f"local-dir:{path.absolute()}", None, False
    if not arch:
        raise EncoderError(f"route {route!r} needs the open_clip architecture "
                           "(e.g. ViT-B-32-quickgelu)")
    if open_clip.get_model_config(arch) is None:
        raise EncoderError(f"open_clip has no architecture {arch!r} "
                           "(see open_clip.list_models())")
    if route == "pretrained":
        tag = str(source)
        tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
        if not tag_cfg:
            known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
            raise EncoderError(f"open_clip has no pretrained weights {tag!r} for {arch} "
                               f"(known tags: {known})")
        # OpenAI-trained weights need QuickGELU even when named without -quickgelu.
        return arch, tag, bool(tag_cfg.get("quick_gelu", False))
    assert path is not None
    if not path.is_file():
        raise EncoderError(f"{path}: no such checkpoint file")
    return arch, str(path.absolute()), False


def check_tokenizer_supported(model_name: str) -> None:
    """Refuse models whose texts crisisdesk cannot window (before building them)."""
    import open_clip

    try:
        config = open_clip.get_model_config(model_name) or {}
    except (OSError, ValueError) as exc:
        raise EncoderError(f"cannot read the model config of {model_name}: {exc}") from exc
    text_cfg = config.get("text_cfg", {})
    if text_cfg.get("hf_tokenizer_name") or text_cfg.get("hf_model_name"):
        raise EncoderError(unsupported_tokenizer(model_name, "HFTokenizer"))
    if text_cfg.get("tokenizer_kwargs", {}).get("reduction_mask"):
        raise EncoderError(unsupported_tokenizer(model_name, "a reduction-mask tokenizer"))
    if not model_name.startswith("local-dir:") and "siglip" in model_name.lower():
        raise EncoderError(unsupported_tokenizer(model_name, "SigLipTokenizer"))


def unsupported_tokenizer(model_name: str, kind: str) -> str:
    """The message refusing a model whose tokenizer crisisdesk cannot window."""
    return (f"{model_name} uses {kind}; crisisdesk windows long texts itself and supports "
            "CLIP models with open_clip's BPE SimpleTokenizer only")


def load_failure(name: str, route: str, source: str | Path, exc: Exception) -> str:
    """What went wrong loading model ``name`` from ``source``, with what to do about it
    (a pickle refused, weights of another architecture, weights not found offline)."""
    import pickle

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        hint = ("the checkpoint holds more than tensors and is only read with "
                "weights_only=True; convert it to .safetensors")
    elif any(sign in str(exc) for sign in ("Missing key", "Unexpected key", "size mismatch",
                                            "width changed")):
        hint = "the weights do not fit this architecture (wrong --arch?)"
    elif route == "pretrained":
        # Only open_clip:ARCH/TAG names come here, and `models download` knows registry
        # names only: point at what does work offline.
        hint = ("open_clip could not find these weights in the Hugging Face cache "
                "(crisisdesk works offline); copy the cache from a machine where open_clip "
                "has loaded them, or register a checkpoint file: crisisdesk models add "
                "NAME FILE --arch ARCH")
    else:
        hint = "the file or folder is not a usable open_clip checkpoint"
    return f"cannot load model {name!r} ({route}: {source}): {hint}\n{text}"
