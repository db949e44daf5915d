"""Loading an encoder by its registry name, on the device asked for."""

from __future__ import annotations

from crisisdesk.core.encoders.base import Encoder, EncoderError
from crisisdesk.core.models.registry import (
    Location,
    ModelSpec,
    all_specs,
    get_spec,
    locate,
    registered_paths,
)

DEVICES = ("auto", "cpu", "cuda")
# An open_clip model that is not in the registry: open_clip:ARCH/TAG (e.g. a LAION tag).
AD_HOC_PREFIX = "open_clip:"
#: Registry kinds that are encoders (a captioner is not one).
ENCODER_KINDS = ("clip", "text")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``. Asking for ``cuda`` on a
    machine without one is an error, never a silent fall back to the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderError(f"--device {device}: no CUDA GPU is usable here "
                           f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
                           "use --device cpu or auto")
    return device


def load_encoder(name: str, device: str = "auto") -> Encoder:
    """Load a registered encoder (or ``open_clip:ARCH/TAG``) without touching the network.

    Raises ModelMissing (how to install it), EncoderError (bad name or device).
    """
    device = resolve_device(device)
    if name.startswith(AD_HOC_PREFIX):
        from crisisdesk.core.encoders.clip import ClipEncoder

        arch, tag = _ad_hoc(name)
        return ClipEncoder.load(name, arch=arch, route="pretrained", source=tag, device=device)
    spec, location = _located(name)
    if spec.kind == "clip":
        from crisisdesk.core.encoders.clip import ClipEncoder

        arch = registered_paths().get(name, {}).get("arch") or spec.arch
        route = "folder" if location.route == "folder" else "file"
        return ClipEncoder.load(name, arch=arch, route=route, source=location.path,
                                device=device)
    from crisisdesk.core.encoders.text import TextEncoder

    return TextEncoder.load(name, location.path, device=device)


def check_encoder(name: str) -> None:
    """Raise as :func:`load_encoder` would for an encoder name it cannot load (unknown,
    not an encoder, not installed, incomplete), loading nothing: an embed with nothing
    to encode skips the load (seconds, ~900 MB) yet still says a missing model is."""
    if name.startswith(AD_HOC_PREFIX):
        _ad_hoc(name)
    else:
        _located(name)


def folder_problem(name: str) -> str:
    """Why the installed text model ``name``'s folder cannot load, from its settings
    files alone (:func:`~crisisdesk.core.encoders.text.check_folder`), or "" (fine, not
    a text model, or not installed: :func:`check_encoder` says that). For what runs
    without loading it: an Embed with nothing to encode, the app's start-up note."""
    from crisisdesk.core.encoders.text import check_folder
    from crisisdesk.core.models.registry import ModelMissing

    try:
        spec = get_spec(name)
        if spec.kind != "text":
            return ""
        folder = locate(spec).path
        check_folder(name, folder)
    except (KeyError, ModelMissing, OSError, ValueError):
        return ""
    except EncoderError as exc:
        return str(exc)
    return ""


def encoder_kinds(name: str) -> frozenset[str]:
    """What the encoder ``name`` embeds (``"image"``, ``"text"``), known before it loads:
    the kinds of the class :func:`load_encoder` builds for it. A name not registered (or
    not an encoder, which its load says) counts as a CLIP: both."""
    from crisisdesk.core.encoders.clip import ClipEncoder
    from crisisdesk.core.encoders.text import TextEncoder

    try:
        text = not name.startswith(AD_HOC_PREFIX) and get_spec(name).kind == "text"
    except KeyError:
        text = False
    return TextEncoder.kinds if text else ClipEncoder.kinds


def _ad_hoc(name: str) -> tuple[str, str]:
    """The (arch, tag) of an ``open_clip:ARCH/TAG`` name; EncoderError when malformed."""
    arch, sep, tag = name[len(AD_HOC_PREFIX):].partition("/")
    if not sep or not arch or not tag:
        raise EncoderError(f"{name!r}: write open_clip:ARCH/TAG, e.g. "
                           "open_clip:ViT-B-16/laion2b_s34b_b88k")
    return arch, tag


def _located(name: str) -> tuple[ModelSpec, Location]:
    """The registry spec of encoder ``name`` and where its weights are."""
    try:
        spec = get_spec(name)
    except KeyError as exc:
        raise EncoderError(exc.args[0]) from None
    if spec.kind not in ENCODER_KINDS:
        # Checked before locating it: a missing captioner would be offered for download
        # (gigabytes), an installed one loaded as a text encoder.
        encoders = sorted(n for n, s in all_specs().items() if s.kind in ENCODER_KINDS)
        raise EncoderError(f"{name!r} is a {spec.kind}, not an encoder; encoders: "
                           f"{', '.join(encoders)}, or {AD_HOC_PREFIX}ARCH/TAG")
    return spec, locate(spec)
