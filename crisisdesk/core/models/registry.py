"""The model registry: specs shipped in ``resources/models/registry.json``, folders and
files registered by the user, and where each model's weights are found.

Nothing here downloads: ``locate`` looks in a registered path, the package that ships the
weights, and the Hugging Face cache (offline), and raises :class:`ModelMissing` naming
the model, every place it looked and the two commands that fix it. A registered path
that has vanished is :class:`RegisteredPathGone`, never a quiet fall back to other
weights under the same name.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from crisisdesk.core.models.completeness import incomplete, model_type
from crisisdesk.core.models.vector_length import vector_length
from crisisdesk.core.resources import read_json
from crisisdesk.core.settings import (
    SettingsError,
    config_dir,
    read_settings,
    read_settings_strict,
    write_settings,
)

REGISTERED = "models.json"
KINDS = ("clip", "text", "captioner")
#: Weight files a registered folder must hold one of (open_clip and transformers names).
WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
#: Names the encoder loader reads as open_clip:ARCH/TAG before any registration.
AD_HOC_PREFIX = "open_clip:"


class ModelMissing(Exception):
    """A model whose weights are nowhere on this machine; the message says how to fix it."""


class RegisteredPathGone(ModelMissing):
    """A model registered at a path that no longer exists (deleted, moved, a drive not
    mounted). ``reason`` is the short form ``models list`` shows."""

    def __init__(self, name: str, path: Path, settings: Path) -> None:
        self.reason = f"registered at {path}, which no longer exists"
        super().__init__(
            f"model {name!r} is {self.reason} (moved, deleted, or on a drive that is not "
            "mounted). crisisdesk does not fall back to another copy under the same name: "
            "its weights may differ, and its embeddings would mix with those stored. "
            "Fix it with:\n"
            f"  crisisdesk models add {name} PATH   (register it again where it is now)\n"
            f"  or remove the \"{name}\" entry from {settings} (drops the registration)")


class RegisteredPathIncomplete(RegisteredPathGone):
    """A registered folder lacking what loading needs (a copy cut short, links copied
    without their files): as a vanished path, never a fall back to another copy."""

    def __init__(self, name: str, path: Path, settings: Path, problem: str) -> None:
        self.reason = f"registered at {path}, which is incomplete: {problem}"
        ModelMissing.__init__(
            self, f"model {name!r} is {self.reason}. crisisdesk does not fall back to "
            "another copy under the same name. Fix it with:\n"
            f"  crisisdesk models add {name} PATH   (a whole copy: the files, not links to "
            "them, e.g. cp -rL)\n"
            f"  or remove the \"{name}\" entry from {settings} (drops the registration)")


@dataclass(frozen=True)
class ModelSpec:
    """What crisisdesk knows of a model before loading it."""

    name: str
    kind: str  # clip: images and texts through open_clip; text: a transformers text encoder;
    # captioner: a LLaVA-family vision-language model (crisisdesk.core.captions)
    description: str = ""
    arch: str | None = None  # open_clip architecture, e.g. ViT-B-32-quickgelu
    pretrained: str | None = None  # open_clip pretrained tag, e.g. openai
    hub_id: str | None = None
    revision: str | None = None
    files: tuple[str, ...] = ()
    package: str | None = None  # a Python package that ships the weights
    package_path: str | None = None
    dim: int | None = None
    preprocessing: str = ""
    licence: str = ""
    download_mb: float | None = None
    # Captioners: what the download fetches (globs; ``files`` is then what must be there),
    # approximate GPU memory (GB) needed per quantization ("4bit", "8bit", "none"), and the
    # quantization used on CUDA when the user says "auto".
    download_patterns: tuple[str, ...] = ()
    gpu_gb: dict[str, float] = field(default_factory=dict)
    cuda_quant: str | None = None


@dataclass(frozen=True)
class Location:
    """Where a model's weights are: a folder, a single file, or a hub cache snapshot."""

    route: str  # "folder" (hub-style folder), "file" (checkpoint), "package", "hub-cache"
    path: Path
    looked: tuple[str, ...] = field(default_factory=tuple)


def builtin_specs() -> dict[str, ModelSpec]:
    """The shipped specs by name."""
    specs = {}
    for entry in read_json("models", "registry.json"):
        entry["files"] = tuple(entry.get("files", ()))
        entry["download_patterns"] = tuple(entry.get("download_patterns", ()))
        spec = ModelSpec(**entry)
        specs[spec.name] = spec
    return specs


class RegistrationsUnreadable(ModelMissing):
    """The registrations file is there but cannot be read (a hand edit that broke its
    JSON): a job cannot know whether its model is registered, so it stops."""


def registered_paths(*, strict: bool = False) -> dict[str, dict[str, str]]:
    """User registrations: name -> {"path", "arch"?, "kind"?}; an entry without a path
    (a hand edit) is left out rather than crashing every look-up. An unreadable file
    reads as no registrations, or with ``strict`` raises RegistrationsUnreadable."""
    try:
        entries = read_settings_strict(REGISTERED) if strict else read_settings(REGISTERED)
    except SettingsError as exc:
        raise RegistrationsUnreadable(
            f"{exc}. A model registered there cannot be found, and crisisdesk does not "
            "fall back to another copy under the same name (its embeddings would mix "
            "with those stored). Fix the file (crisisdesk doctor shows it), or move it "
            "away and register the folders again: crisisdesk models add NAME PATH") from None
    return {k: v for k, v in entries.items()
            if isinstance(v, dict) and isinstance(v.get("path"), str) and v["path"]}


def all_specs() -> dict[str, ModelSpec]:
    """Shipped specs plus models known only by a user registration."""
    specs = builtin_specs()
    for name, entry in registered_paths().items():
        if name not in specs:
            specs[name] = ModelSpec(name=name, kind=entry.get("kind", "clip"),
                                    description=f"registered: {entry['path']}",
                                    arch=entry.get("arch"))
    return specs


def get_spec(name: str) -> ModelSpec:
    """The spec of a model; a KeyError lists the known names."""
    specs = all_specs()
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(specs))} "
                       "(crisisdesk models list)")
    return specs[name]


def register(name: str, path: Path, *, arch: str | None = None, kind: str | None = None
             ) -> Path:
    """Register a local folder or checkpoint file as model ``name``; return the settings file.

    A checkpoint file of a model crisisdesk does not ship needs ``arch`` (its open_clip
    architecture); a folder is a hub-style open_clip folder or a transformers text model.
    """
    _check_name(name)
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    known = builtin_specs().get(name)
    if kind is None:
        kind = known.kind if known else _guess_kind(path)
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, not {kind!r}")
    if known and kind != known.kind:
        raise ValueError(f"{name} is a {known.kind} model: --kind {kind} does not fit it "
                         "(register the folder under another name)")
    if path.is_file() and kind == "clip" and not (arch or (known and known.arch)):
        raise ValueError(f"{path} is a checkpoint file: say its open_clip architecture "
                         "with --arch (e.g. ViT-B-32-quickgelu)")
    problem = incomplete(path, kind)  # first: a dangling config link is no "no config"
    if problem:
        raise ValueError(f"{path} is incomplete: {problem}. Copy the whole model folder "
                         "again (its files, not links to them: cp -rL), then add it")
    _check_holds_a_model(path, name, kind)
    if kind == "text":
        _check_text_folder(path, name)
    length = vector_length(path, kind) if known and known.dim else None
    if length is not None and known is not None and length != known.dim:
        raise ValueError(f"{path} gives {length}-d vectors; {name} gives {known.dim}-d: it "
                         "is another model, whose embeddings would be stored as "
                         f"{name}'s: register it under a name of its own")
    # Strict: a models.json spoilt by a hand edit is refused, not replaced by this entry.
    try:
        entries = read_settings_strict(REGISTERED)
    except SettingsError as exc:
        raise ValueError(f"{exc}; nothing was changed: correct the file (or move it away) "
                         "and add the model again") from None
    entries[name] = {"path": str(path), "kind": kind, **({"arch": arch} if arch else {})}
    try:
        return write_settings(REGISTERED, entries)
    except OSError as exc:  # a full disk, a settings folder that may not be written
        raise ValueError(f"{config_dir() / REGISTERED} cannot be written "
                         f"({exc.strerror or exc}): {name} was not registered. Free some "
                         "space (or fix the folder's permissions) and add it again") from None


def _check_name(name: str) -> None:
    """ValueError for a name no job could use: blank, line breaks, edge spaces, or read
    as open_clip:ARCH/TAG (the loader takes open_clip's weights, never the registered)."""
    if not name.strip():
        raise ValueError("a model needs a name (e.g. field-clip)")
    if name != name.strip() or not name.isprintable():
        raise ValueError(f"model name {name!r}: give a name without line breaks, tabs or "
                         "spaces at its ends (e.g. field-clip)")
    if name.startswith(AD_HOC_PREFIX):
        raise ValueError(f"model name {name!r}: names starting with {AD_HOC_PREFIX} mean "
                         "open_clip's own weights (--encoder open_clip:ARCH/TAG), so this "
                         "registration would never be used: choose another name")


def _check_holds_a_model(path: Path, name: str, kind: str) -> None:
    """ValueError unless ``path`` holds what a ``kind`` model is loaded from: registering
    an empty or wrong folder would show the model as installed (and shadow a shipped
    one of the same name) until a job fails on it."""
    if path.is_file():
        if kind != "clip":
            raise ValueError(f"{path} is a file; a {kind} model is a folder "
                             "(config.json, weights and tokenizer files)")
        return
    needed = "open_clip_config.json" if kind == "clip" else "config.json"
    if not (path / needed).is_file():
        raise ValueError(f"{path} holds no {needed}: not a {kind} model folder for "
                         f"{name} (give the folder that holds {needed} and the weights)")
    if not any(any(path.glob(pattern)) for pattern in WEIGHT_GLOBS):
        raise ValueError(f"{path} holds no weights (a .safetensors or .bin file): "
                         "copy the whole model folder")


def _check_text_folder(path: Path, name: str) -> None:
    """ValueError where the app would refuse to load text model folder ``path`` for its
    settings files (:func:`~crisisdesk.core.encoders.text.check_folder`: a size no model
    can have, a tokenizer file that is not an object...): registered, it would show as
    installed while every Embed and the app's start-up note said it cannot load."""
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.encoders.text import check_folder  # encoders import this module

    try:
        check_folder(name, path)
    except EncoderError as exc:
        raise ValueError(f"{exc}. {name} was not registered: copy the model folder again "
                         "from where it came (or correct that file), then add it") from None


def _guess_kind(path: Path) -> str:
    if path.is_dir() and not (path / "open_clip_config.json").exists() and \
            (path / "config.json").exists():
        # A LLaVA-family config (llava, llava_next...) is a captioner.
        return "captioner" if (model_type(path) or "").startswith("llava") else "text"
    return "clip"


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, found as huggingface_hub finds it (which its
    cache look-ups use): HF_HUB_CACHE, the older HUGGINGFACE_HUB_CACHE, HF_HOME/hub,
    XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. Read from the
    environment at each call (huggingface_hub reads it once, at import)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    home = os.environ.get("HF_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface")
    return Path(home).expanduser() / "hub"


def _hub_cached(spec: ModelSpec) -> Path | None:
    """The cached snapshot file (clip) or folder (text) of a hub model, without network."""
    if not spec.hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = []
    for filename in spec.files:
        hit = try_to_load_from_cache(spec.hub_id, filename, cache_dir=hub_cache_dir(),
                                     revision=spec.revision)
        if isinstance(hit, str):
            found.append(Path(hit))
    if not found:
        return None
    if spec.kind == "clip":
        return found[0]  # the first listed weights file that is there
    return found[0].parent if len(found) == len(spec.files) else None


def locate(spec: ModelSpec) -> Location:
    """Find a model's weights on this machine, or raise ModelMissing saying how to get them."""
    looked: list[str] = []
    # Strict: read as "none", a spoilt file would let a registered model's name fall
    # through to the package or hub copy, whose weights need not be the registered ones.
    entry = registered_paths(strict=True).get(spec.name)
    settings = config_dir() / REGISTERED
    if entry:
        path = Path(entry["path"])
        if path.exists():
            problem = incomplete(path, spec.kind)
            if problem:
                raise RegisteredPathIncomplete(spec.name, path, settings, problem)
            return Location("file" if path.is_file() else "folder", path)
        # No fall back to the package or the hub cache: their weights need not be the
        # registered ones, and a job would file their embeddings under the same name.
        raise RegisteredPathGone(spec.name, path, settings)
    looked.append(f"registered folders in {settings} (none for this name)")
    if spec.package:
        origin = importlib.util.find_spec(spec.package)
        if origin is not None and origin.submodule_search_locations:
            folder = Path(next(iter(origin.submodule_search_locations)))
            folder = folder / spec.package_path if spec.package_path else folder
            if folder.is_dir():
                return Location("package", folder)
        looked.append(f"the Python package {spec.package} (not installed)")
    if spec.hub_id:
        hit = _hub_cached(spec)
        if hit is not None:
            return Location("hub-cache", hit)
        looked.append(f"the Hugging Face cache {hub_cache_dir()} for {spec.hub_id} "
                      f"({' or '.join(spec.files)})")
    fixes = [f"  crisisdesk models add {spec.name} PATH   "
             "(a folder or file copied from another machine)"]
    if spec.hub_id:
        size = f", about {spec.download_mb:,.0f} MB" if spec.download_mb else ""
        fixes.insert(0, f"  crisisdesk models download {spec.name}   (needs the network{size})")
    raise ModelMissing(
        f"model {spec.name!r} is not installed. Looked in:\n"
        + "".join(f"  - {place}\n" for place in looked)
        + "Fix it with:\n" + "\n".join(fixes))


def is_installed(spec: ModelSpec) -> Location | None:
    """Where the model is, or None."""
    try:
        return locate(spec)
    except ModelMissing:
        return None


def install_state(spec: ModelSpec) -> str:
    """What ``models list`` says of a model: installed (where), missing (a registered
    path gone), or not installed."""
    try:
        where = locate(spec)
    except RegisteredPathGone as exc:
        return f"missing ({exc.reason})"
    except RegistrationsUnreadable:
        return "unknown (the registrations file cannot be read: crisisdesk doctor)"
    except ModelMissing:
        return "not installed"
    return f"installed ({where.route}: {where.path})"
