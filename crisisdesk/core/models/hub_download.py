"""Downloading a model from the Hugging Face hub into its cache: the one place crisisdesk
goes online, and only when asked (``crisisdesk models download``, the app's Download).

Asks the hub first (with a timeout) for the files and their sizes, refuses before
fetching when they do not fit on the cache's disk (``disk_room``), and fetches only what
the model needs: a CLIP model's first weights file the hub holds, not every alternative.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crisisdesk.core.models.disk_room import check_room, download_sizes, full_disk_said
from crisisdesk.core.models.registry import ModelMissing, ModelSpec, hub_cache_dir

#: Seconds ``download`` waits for the hub's first answer. The hub library's repository
#: look-up that starts a snapshot download has no timeout, so where the hub's address
#: resolves but nothing answers (a firewall that drops packets, a captive portal) the
#: download would hang with no message.
HUB_TIMEOUT_S = 15.0

#: Told (bytes written, bytes of the model's files: 0 until the first byte is written,
#: and all along when the hub did not give the sizes).
BytesDone = Callable[[int, int], None]


def download(spec: ModelSpec, say: Callable[[str], None] | None = None,
             progress: BytesDone | None = None, force: bool = False) -> Path:
    """Fetch a model's files from the hub into the cache.

    The one place crisisdesk goes online; callers must have asked for it explicitly.
    Raises NoRoom, before fetching anything, when the files do not fit on the cache's
    disk, and when that disk fills up during the download; ``say`` (else a logged
    warning) is told when the room cannot be checked. Without ``progress`` the hub shows
    its own bars (the CLI); with it, no bar is drawn and ``progress`` is told the bytes
    done: once before the fetch (what the cache holds, total 0: not known yet), then as
    they are written, of the total. An exception ``progress`` raises stops the fetch (a
    cancelled job). ``force``: fetch again the files the cache holds too (the hub leaves
    them alone otherwise, however damaged: ``models download --force``).
    """
    if not spec.hub_id:
        raise ModelMissing(f"model {spec.name!r} has no hub source; register a local copy "
                           f"with: crisisdesk models add {spec.name} PATH")
    import huggingface_hub
    from huggingface_hub import constants

    # The process runs offline (see crisisdesk/__init__.py); this call alone goes online.
    offline = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    cache = hub_cache_dir()
    try:
        info = _check_hub_answers(spec)
        patterns = _download_patterns(spec, info)
        check_room(spec.name, spec.hub_id, info, patterns, cache, say, force)
        bars: dict[str, type] = {}  # none: the hub's own bars (the CLI)
        if progress is not None:
            bars["tqdm_class"] = _bytes_counter(
                progress, download_sizes(info, patterns, cache, spec.hub_id))
        # The hub keeps a file its cache holds, damaged or not, unless told otherwise.
        forced = {"force_download": True} if force else {}
        with full_disk_said(spec.name, spec.hub_id, cache):
            folder = huggingface_hub.snapshot_download(
                spec.hub_id, revision=spec.revision, allow_patterns=patterns,
                cache_dir=cache, **bars, **forced)
    finally:
        constants.HF_HUB_OFFLINE = offline
    return Path(folder)


def _download_patterns(spec: ModelSpec, info: Any) -> list[str] | None:
    """What the download fetches: the spec's patterns, or its files; for a CLIP model,
    whose files are alternatives (safetensors, else the pickle), only the first the hub
    holds: both were fetched, twice the ~0.6 / 1.7 GB said."""
    if spec.download_patterns:
        return list(spec.download_patterns)
    if spec.kind == "clip":
        held = {sibling.rfilename for sibling in getattr(info, "siblings", None) or ()}
        first = next((name for name in spec.files if name in held), None)
        if first is not None:
            return [first]
    return list(spec.files) or None


def _check_hub_answers(spec: ModelSpec) -> Any:
    """Ask the hub about the model and its files' sizes, with a timeout, before the
    snapshot download (whose first request has none); TimeoutError saying which address
    did not answer."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        return api.model_info(spec.hub_id, revision=spec.revision, timeout=HUB_TIMEOUT_S,
                              files_metadata=True)
    except Exception as exc:
        # httpx and requests name their timeouts differently; both say "Timeout".
        if "Timeout" not in type(exc).__name__:
            raise  # not found, gated, refused...: the hub library's own message
        raise TimeoutError(f"{api.endpoint} did not answer within {HUB_TIMEOUT_S:.0f} s "
                           "(no network, or a firewall or proxy in the way)") from exc


def _bytes_counter(progress: BytesDone, sizes: tuple[int, int] | None) -> type:
    """A bar class for the hub's ``tqdm_class`` that draws nothing and tells ``progress``
    (at once, then at each update) the bytes written so far of the files' total, from
    ``sizes``' bytes held whole (a partial file the hub resumes comes as a first update).

    huggingface_hub (2.x) makes three bars of it: the files done, the bytes received
    and the bytes written to disk; each file's download adds to the last two, so only
    the written bytes are counted (the received ones would count them twice). The total
    is told with the first byte written: before it (the hub's look-up), and all along
    with an older hub that passes the class only its bar of files done, the job has no
    count to advance, and its row shows a busy bar, not a bar that stands still."""
    from huggingface_hub.utils import tqdm as hub_tqdm

    total, held = sizes or (0, 0)
    lock = threading.Lock()  # the hub fetches files in several threads
    count = [held]
    progress(held, 0)  # before the fetch: a cancelled job stops here

    class Bytes(hub_tqdm):
        """A hub bar counting into ``progress`` (the job's own bar says it)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            name, desc = kwargs.get("name") or "", kwargs.get("desc") or ""
            self.counts = kwargs.get("unit") == "B" and not (
                name.endswith(".transfer") or desc.startswith("Downloading bytes"))
            kwargs["disable"] = True  # no bar on a terminal the app may not have
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if self.counts and n:
                with lock:  # told in order: a count that went back would read as a stall
                    count[0] += int(n)
                    progress(min(count[0], total) if total else count[0], total)
            return super().update(n)

    return Bytes
