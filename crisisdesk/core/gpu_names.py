"""The model name of the GPU a job runs on ("NVIDIA RTX 4090"), taken once per device.

A job reports its device in torch's words ("cuda:0"); the jobs panel says "GPU 0" and,
once known, the card's name beside it, so an analyst with two cards (or a laptop's
integrated and discrete ones) sees which one works. Asking CUDA can take its time (the
driver starts, a busy card answers late), so the name is learnt in a job's thread or
another background thread (:func:`learn_gpu_name`) and only read back elsewhere
(:func:`gpu_name`, which never calls torch: the UI thread uses it). Nothing here imports
torch: a device is only asked about when torch is already loaded.
"""

from __future__ import annotations

import re
import sys
import threading

_CUDA = re.compile(r"cuda(?::\d+)?")
#: device -> its name ("" where there is none to give: not a CUDA device, or CUDA could
#: not say); each device is asked once per process.
_NAMES: dict[str, str] = {}
_LOCK = threading.Lock()


def learn_gpu_name(device: str) -> str:
    """The name of ``device`` ("cuda:0", "cuda"), asked of torch the first time only.

    For a thread that may wait on CUDA (a job's, a background call's), never the UI
    thread. "" for any other device, where torch is not loaded, or where CUDA fails to
    answer (a driver fault is the job's to report, not this label's)."""
    known = _NAMES.get(device)
    if known is not None:
        return known
    with _LOCK:  # two jobs starting together ask once
        if device not in _NAMES:
            _NAMES[device] = _ask_torch(device)
        return _NAMES[device]


def gpu_name(device: str) -> str:
    """The name learnt for ``device`` ("" until learnt, or where there is none). Never
    calls torch: safe on the UI thread."""
    return _NAMES.get(device, "")


def forget_gpu_names() -> None:
    """Drop the names learnt (for tests that fake a GPU)."""
    with _LOCK:
        _NAMES.clear()


def _ask_torch(device: str) -> str:
    torch = sys.modules.get("torch")
    if torch is None or not _CUDA.fullmatch(device):
        return ""
    try:
        return str(torch.cuda.get_device_name(torch.device(device))).strip()
    except Exception:  # noqa: BLE001 - no name is no loss: the device is still said
        return ""
