"""Whether a model folder or file holds what loading it needs, told from file names,
links and headers alone: a half-copied folder must be refused when it is registered and
never listed as installed, rather than fail (or silently mis-tokenize) in a job."""

from __future__ import annotations

import json
from pathlib import Path

from crisisdesk.core.models.vector_length import MAX_HEADER

#: Files a tokenizer is read from. Without one, transformers builds a BERT tokenizer of
#: special tokens alone: every word [UNK], every text the same vector, and no error.
#: (spm.model: DeBERTa-v2/v3 and mDeBERTa, whose hub folders have no tokenizer.json.)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model",
                   "spiece.model", "sentencepiece.bpe.model", "spm.model",
                   "sentencepiece.model")
#: Files a captioner's image processor is read from (one is enough).
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def incomplete(path: Path, kind: str) -> str | None:
    """What a model folder or file lacks that loading needs (None: nothing seen): files
    behind links (a Hugging Face cache folder copied as links), shards its index names,
    safetensors bytes its header names, a transformers model's tokenizer, a captioner's
    image processor. Only what names and headers tell; the load says the rest."""
    try:
        files = [path] if path.is_file() else sorted(path.iterdir()) if path.is_dir() else []
        dangling = [p.name for p in files if p.is_symlink() and not p.exists()]
        if dangling:
            return (f"{', '.join(dangling[:3])}{' ...' if len(dangling) > 3 else ''} "
                    f"{'are links' if len(dangling) > 1 else 'is a link'} to what was not copied")
        for index in (p for p in files if p.name.endswith(".index.json")):
            weight_map = json.loads(index.read_text("utf-8")).get("weight_map") or {}
            shards = sorted({s for s in weight_map.values() if isinstance(s, str)})
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                return (f"{len(missing)} of the {len(shards)} weight files {index.name} "
                        f"names are not there ({', '.join(missing[:3])})")
        for weights in (p for p in files if p.suffix == ".safetensors"):
            size, needed = weights.stat().st_size, _safetensors_size(weights)
            if needed is not None and size < needed:
                return f"{weights.name} is cut short ({size:,} of {needed:,} bytes)"
        if kind in ("text", "captioner") and path.is_dir() and model_type(path):
            if not any((path / name).is_file() for name in TOKENIZER_FILES):
                return f"no tokenizer file ({', '.join(TOKENIZER_FILES[:2])} ...)"
            if kind == "captioner" and not any((path / n).is_file() for n in PROCESSOR_FILES):
                return f"no image processor file ({' or '.join(PROCESSOR_FILES)})"
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return None  # unreadable or another layout: the load says what is wrong
    return None


def _safetensors_size(path: Path) -> int | None:
    """The bytes a safetensors file holds by its header, or None when no header is read."""
    with path.open("rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 0 < size <= MAX_HEADER:
            return None
        header = json.loads(handle.read(size))
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict)]
    return 8 + size + max(ends, default=0)


def model_type(path: Path) -> str | None:
    """config.json's model_type (which tokenizer transformers builds), or None."""
    try:
        value = json.loads((path / "config.json").read_text("utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None
