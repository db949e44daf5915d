"""Downloading a model from the Hugging Face hub into its cache: the one place crisisdesk
goes online, and only when asked (``crisisdesk models download``, the app's Download).

Asks the hub first (with a timeout) for the files and their sizes, refuses before
fetching when they do not fit on the cache's disk (``disk_room``), and fetches only what
the model needs: a CLIP model's first weights file the hub holds, not every alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from crisisdesk.core.models.disk_room import check_room, full_disk_said
from crisisdesk.core.models.registry import ModelMissing, ModelSpec, hub_cache_dir

#: Seconds ``download`` waits for the hub's first answer. The hub library's repository
#: look-up that starts a snapshot download has no timeout, so where the hub's address
#: resolves but nothing answers (a firewall that drops packets, a captive portal) the
#: download would hang with no message.
HUB_TIMEOUT_S = 15.0


def download(spec: ModelSpec, say: Callable[[str], None] | None = None) -> Path:
    """Fetch a model's files from the hub into the cache (with hub progress bars).

    The one place crisisdesk goes online; callers must have asked for it explicitly.
    Raises NoRoom, before fetching anything, when the files do not fit on the cache's
    disk, and when that disk fills up during the download; ``say`` (else a logged
    warning) is told when the room cannot be checked.
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
        check_room(spec.name, spec.hub_id, info, patterns, cache, say)
        with full_disk_said(spec.name, spec.hub_id, cache):
            folder = huggingface_hub.snapshot_download(
                spec.hub_id, revision=spec.revision, allow_patterns=patterns,
                cache_dir=cache)
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
