"""A tiny CLIP built from open_clip's real classes, saved the ways crisisdesk loads models.

``make_tiny_clip(folder)`` registers the architecture ``crisisdesk-tiny-clip`` with open_clip,
builds it with a fixed seed (random weights: nothing is downloaded) and writes

* ``tiny.safetensors``: the state dict as one safetensors checkpoint (route "file");
* ``tiny.pt``: the same state dict saved with ``torch.save`` (read back with
  ``weights_only=True``);
* ``tiny-folder/``: a hub-style folder as open_clip's ``push_to_hf_hub.save_for_hf`` writes
  it (``open_clip_config.json`` with ``model_cfg`` + ``preprocess_cfg``, and
  ``open_clip_model.safetensors``) (route "folder").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ARCH = "crisisdesk-tiny-clip"

TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {
        "image_size": 32,
        "patch_size": 8,
        "width": 64,
        "layers": 2,
        "head_width": 32,  # open_clip's vision config takes head_width: 64 / 32 = 2 heads
    },
    "text_cfg": {
        "context_length": 77,
        "vocab_size": 49408,
        "width": 64,
        "heads": 2,
        "layers": 2,
    },
}

#: What open_clip uses for OpenAI-style models (and its PreprocessCfg defaults).
PREPROCESS_CFG: dict[str, Any] = {
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}


def register_tiny_arch() -> str:
    """Make ``crisisdesk-tiny-clip`` a known open_clip architecture (idempotent).

    ``open_clip.add_model_config`` would need a JSON file that stays on disk (it keeps the
    path and rescans it later); inserting into the registry dict it fills is equivalent, and
    survives rescans (they update the same entries). Look the dict up through the module
    each time: a rescan rebinds ``open_clip.factory._MODEL_CONFIGS``.
    """
    import open_clip.factory

    open_clip.factory._MODEL_CONFIGS[ARCH] = copy.deepcopy(TINY_CONFIG)
    return ARCH


def make_tiny_clip(folder: Path, seed: int = 0) -> dict[str, Any]:
    """Build the tiny CLIP and save it; return ``{"arch", "file", "pt", "folder",
    "state_dict"}``."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    register_tiny_arch()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.create_model(ARCH)  # random init from the fixed seed, no weights
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}

    file = folder / "tiny.safetensors"
    save_file(state, str(file))
    pt = folder / "tiny.pt"
    torch.save(state, pt)

    hub = folder / "tiny-folder"
    hub.mkdir(exist_ok=True)
    save_file(state, str(hub / "open_clip_model.safetensors"))
    (hub / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": TINY_CONFIG, "preprocess_cfg": PREPROCESS_CFG}, indent=2),
        encoding="utf-8")
    return {"arch": ARCH, "file": file, "pt": pt, "folder": hub, "state_dict": state}
