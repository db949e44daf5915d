"""What is wrong with a checkpoint's weights file when its sha256 is not the one its
sidecar records: cut short (a partial copy, a full disk), not a safetensors file at all
(a failed download, another file under its name), or whole but other bytes (another save,
another version's weights copied over it).

Told apart from the file's safetensors layout (an 8-byte little-endian header length, a
JSON header giving each tensor's byte range, then the tensors' bytes), so that an analyst
is not sent looking for a concurrent save that never happened.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from crisisdesk.core.resources import is_shipped

#: safetensors refuses headers larger than this; a larger length is not a header.
MAX_HEADER = 100_000_000
#: What to do about any of it (a caller such as predict adds how to switch versions).
ADVICE = ("copy the model folder again from where it came (the whole models/ folder, "
          "both files of each checkpoint), or make another version of the task active")
#: What to do about a shipped head's weights (resources/heads/): a file of the package.
SHIPPED_ADVICE = ("it is a file of the installed crisisdesk package: reinstall crisisdesk "
                  "(pip install --force-reinstall crisisdesk, or the wheel it came from)")


def weights_damage(weights: Path, recorded_sha: str, actual_sha: str) -> str:
    """The message for weights whose sha256 (``actual_sha``) is not the sidecar's
    (``recorded_sha``): what happened to the file, as far as it can be told, and what
    to do."""
    advice = SHIPPED_ADVICE if is_shipped(weights) else ADVICE
    return f"{weights}: {_what_happened(weights, recorded_sha, actual_sha)}; {advice}"


def _what_happened(weights: Path, recorded_sha: str, actual_sha: str) -> str:
    size = weights.stat().st_size
    if size == 0:
        return "the weights file is empty (0 bytes): a copy or save stopped before its bytes"
    with weights.open("rb") as handle:
        start = handle.read(8)
        header_length = struct.unpack("<Q", start)[0] if len(start) == 8 else None
        if header_length is None or header_length > MAX_HEADER:
            return _unreadable(size, "it does not start with a safetensors header length")
        header = handle.read(header_length)
    if not header.startswith(b"{"):
        return _unreadable(size, "it holds no safetensors header")
    if size < 8 + header_length:
        return _cut_short(size, 8 + header_length)
    try:
        tensors = json.loads(header.decode("utf-8"))
        ends = [int(entry["data_offsets"][1]) for name, entry in tensors.items()
                if name != "__metadata__"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return _unreadable(size, "its header is not a safetensors header")
    expected = 8 + header_length + max(ends, default=0)
    if size < expected:
        return _cut_short(size, expected)
    if size > expected:
        return _unreadable(size, f"it is longer than the {expected} bytes its header says")
    return (f"these weights are not the ones its sidecar was written with: the file is "
            f"whole, but its sha256 {actual_sha[:12]}... differs from the "
            f"{recorded_sha[:12]}... its sidecar records (the file was changed or "
            "replaced after that save: another version's weights copied over it, a "
            "later save of that name, or damage on disk)")


def _cut_short(size: int, expected: int) -> str:
    return (f"the weights file is cut short: {size} bytes, where its own header says "
            f"{expected} bytes (a partial copy, or a disk that filled up)")


def _unreadable(size: int, why: str) -> str:
    return (f"the weights file ({size} bytes) is not readable as safetensors: {why} "
            "(another file saved under its name, or a failed download)")
