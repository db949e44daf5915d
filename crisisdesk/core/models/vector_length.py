"""How long the vectors of a model folder or checkpoint are, read from its config or its
weights' header without loading it: ``models add`` uses it to refuse a model registered
under a shipped model's name that gives vectors of another length (its embeddings would
be stored under that name, beside the real model's, and could not be told apart)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

#: The safetensors header is at most this long here (a CLIP's is ~50 KB).
MAX_HEADER = 16 * 1024 * 1024


def vector_length(path: Path, kind: str) -> int | None:
    """The length of the vectors ``path`` gives, or None when it cannot be told cheaply
    (then nothing is refused on its account)."""
    try:
        if path.is_dir():
            if kind == "clip":
                config = json.loads((path / "open_clip_config.json").read_text("utf-8"))
                value = (config.get("model_cfg") or {}).get("embed_dim")
            elif kind == "text":
                value = json.loads((path / "config.json").read_text("utf-8")).get(
                    "hidden_size")
            else:
                return None
        elif kind == "clip" and path.suffix == ".safetensors":
            value = _projection_width(path)
        else:
            return None
    except (OSError, ValueError, AttributeError, struct.error):
        return None  # unreadable or another shape: the load says what is wrong later
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def _projection_width(path: Path) -> int | None:
    """The output width of an open_clip checkpoint's text projection ([width, dim]),
    from the safetensors header alone."""
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        if size > MAX_HEADER:
            return None
        header = json.loads(handle.read(size))
    for key in ("text_projection", "visual.proj"):
        shape = (header.get(key) or {}).get("shape")
        if isinstance(shape, list) and len(shape) == 2:
            return shape[1]
    return None
