"""Checkpoints of a fusion head: safetensors weights + a JSON sidecar, never a pickle.

A checkpoint named ``<name>`` is two files in one folder:

* ``<name>.safetensors``: the model's state dict (plain tensors; nothing runs on load);
* ``<name>.json``: the sidecar, everything needed to rebuild and use the head on its own
  (in the spirit of nanoGPT's checkpoints): the model ``config``, the ``task`` and its
  ``classes`` in output order, the encoders whose embeddings it was trained on and their
  dims, the ``text_source``, the ``training_data_hash``, ``metrics``, the calibration
  ``temperature``, ``created_at`` and the checkpoint ``format``, plus the sha256 of the
  weights file so that a sidecar never silently pairs with other weights.

Both files are written to temp files and renamed into place, the weights first: a
sidecar present means its weights were complete when it was written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crisisdesk.core.files import file_sha256
from crisisdesk.core.fusion.variants import VARIANTS
from crisisdesk.core.fusion.weights_file import weights_damage

if TYPE_CHECKING:
    from torch import nn

#: The sidecar layout this code writes and reads; bump it when the layout changes.
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"
#: Keys the caller of :func:`save_head` must supply (None allowed where noted).
REQUIRED_KEYS = ("config", "task", "classes", "image_encoder", "text_encoder", "image_dim",
                 "text_dim", "text_source", "training_data_hash", "metrics", "temperature")
#: Keys :func:`save_head` adds; a sidecar read back must have all of both.
WRITTEN_KEYS = ("format", "created_at", "weights_sha256")
#: The other kind of embedding than each.
OTHER = {"image": "text", "text": "image"}


class CheckpointError(Exception):
    """A checkpoint that cannot be written or read; the message says which file and why."""


class EncoderMismatch(CheckpointError):
    """Embeddings made by another encoder (or of another dim) than the head was trained on.

    ``mismatches`` holds ``(field, head's value, project's value)`` triples.
    """

    def __init__(self, message: str, mismatches: list[tuple[str, Any, Any]]) -> None:
        super().__init__(message)
        self.mismatches = mismatches


# -- paths -------------------------------------------------------------------------------

def checkpoint_paths(path: Path | str) -> tuple[Path, Path]:
    """(weights, sidecar) of a checkpoint named by either file or by their common stem."""
    path = Path(path)
    if path.name.endswith(WEIGHTS_SUFFIX):
        stem = path.name[:-len(WEIGHTS_SUFFIX)]
    elif path.name.endswith(SIDECAR_SUFFIX):
        stem = path.name[:-len(SIDECAR_SUFFIX)]
    else:  # a stem; names may hold dots ("damage-v1.2"), so nothing else is stripped
        stem = path.name
    return path.with_name(stem + WEIGHTS_SUFFIX), path.with_name(stem + SIDECAR_SUFFIX)


def _check_name(name: str) -> None:
    if not name or name != Path(name).name or name.startswith(".") or \
            name.endswith((WEIGHTS_SUFFIX, SIDECAR_SUFFIX)):
        raise CheckpointError(f"bad checkpoint name {name!r}: give a plain file stem "
                              "(no folder, no leading dot, no suffix)")


# -- sidecar validation ------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_sidecar(sidecar: Any, *, written: bool = True, where: str = "sidecar") -> None:
    """Raise CheckpointError unless ``sidecar`` is a complete, consistent sidecar.

    ``written`` False checks what a caller hands to :func:`save_head` (without the keys
    save_head adds itself).
    """
    def fail(reason: str) -> None:
        raise CheckpointError(f"{where}: {reason}")

    if not isinstance(sidecar, dict):
        fail(f"expected a JSON object, found {type(sidecar).__name__}")
    required = REQUIRED_KEYS + (WRITTEN_KEYS if written else ())
    missing = [key for key in required if key not in sidecar]
    if missing:
        fail(f"missing keys: {', '.join(missing)}")
    if written:
        version = sidecar["format"]
        if not _is_int(version):
            fail(f"format must be an integer version, not {version!r}")
        if version != FORMAT_VERSION:
            newer = " (written by a newer crisisdesk: update it)" \
                if version > FORMAT_VERSION else ""
            fail(f"unknown checkpoint format {version}; this crisisdesk reads format "
                 f"{FORMAT_VERSION}{newer}")
        if not isinstance(sidecar["created_at"], str):
            fail("created_at must be an ISO time string")
        if not isinstance(sidecar["weights_sha256"], str):
            fail("weights_sha256 must be a hex string")
    config, classes = sidecar["config"], sidecar["classes"]
    if not isinstance(config, dict):
        fail("config must be an object (the model config's to_dict())")
    if not isinstance(sidecar["task"], str) or not sidecar["task"]:
        fail("task must be a task name")
    if not isinstance(classes, list) or not classes or \
            not all(isinstance(c, str) and c for c in classes):
        fail("classes must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        fail(f"classes repeat: {classes}")
    if "n_classes" in config and not _is_int(config["n_classes"]):
        fail(f"config n_classes must be an integer, not {config['n_classes']!r}")
    # JSON's NaN and Infinity parse: a NaN lambda_init builds a head whose every logit is
    # NaN, stored as predictions without a word.
    for key, value in config.items():
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"config {key} must be a finite number, not {value!r}")
    if "n_classes" in config and config["n_classes"] != len(classes):
        fail(f"config has {config['n_classes']} classes but the sidecar lists "
             f"{len(classes)}: {classes}")
    for kind in ("image", "text"):
        encoder, dim = sidecar[f"{kind}_encoder"], sidecar[f"{kind}_dim"]
        if encoder is not None and (not isinstance(encoder, str) or not encoder):
            fail(f"{kind}_encoder must be an encoder name or null")
        if dim is not None and (not _is_int(dim) or dim <= 0):
            fail(f"{kind}_dim must be a positive integer or null")
        if encoder is not None and dim is None:
            fail(f"{kind}_encoder {encoder!r} is named without its {kind}_dim")
        configured = config.get(f"{kind}_dim")
        if dim is not None and configured is not None and configured != dim:
            fail(f"{kind}_dim {dim} disagrees with the config's {kind}_dim {configured}")
        # A fusion head's variant says which embeddings it reads: without their encoder
        # predict would feed it placeholder vectors and fail on their shape
        # (every variant but the other modality's one-modality head, as in FusionHead).
        variant = config.get("variant")
        if encoder is None and variant in VARIANTS and variant != f"{OTHER[kind]}_only":
            fail(f"a {variant} head reads {kind} embeddings, but {kind}_encoder is null")
    if sidecar["text_source"] is not None and not isinstance(sidecar["text_source"], str):
        fail("text_source must be a string (e.g. 'tweet' or 'tweet+caption:<captioner>')")
    if not isinstance(sidecar["training_data_hash"], str):
        fail("training_data_hash must be a string")
    if not isinstance(sidecar["metrics"], dict):
        fail("metrics must be an object")
    temperature = sidecar["temperature"]
    if not _is_number(temperature) or not temperature > 0 or temperature == float("inf"):
        fail(f"temperature must be a positive number, not {temperature!r}")


# -- writing -----------------------------------------------------------------------------

def _temp_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _replace(tmp: Path, path: Path) -> None:
    with tmp.open("rb") as handle:  # on disk before the rename makes it visible
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_head(folder: Path, name: str, model: nn.Module, sidecar: dict[str, Any]) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.json`` into ``folder``; return the sidecar's
    path (``load_head`` takes it, the weights' path or the stem).

    ``sidecar`` must carry :data:`REQUIRED_KEYS`; ``format``, ``weights_sha256`` and (unless
    given) ``created_at`` are added. Extra keys (the training recipe...) are kept. An
    existing checkpoint of that name is replaced.
    """
    from safetensors.torch import save_file

    _check_name(name)
    validate_sidecar(sidecar, written=False, where=f"checkpoint {name!r}")
    if "format" in sidecar and sidecar["format"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {name!r}: this crisisdesk writes format "
                              f"{FORMAT_VERSION}, not {sidecar['format']!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights, sidecar_path = checkpoint_paths(folder / name)
    # Own copies on the CPU: no two entries share storage (safetensors refuses shared
    # tensors, e.g. tied weights) and nothing of the live model is held.
    state = {key: value.detach().to("cpu").clone().contiguous()
             for key, value in model.state_dict().items()}
    full = {**sidecar, "format": FORMAT_VERSION,
            "created_at": sidecar.get("created_at") or
            datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        text = json.dumps(full, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {name!r}: the sidecar is not JSON: {exc}") from exc

    tmp = _temp_beside(weights)
    try:
        save_file(state, str(tmp), metadata={"crisisdesk_format": str(FORMAT_VERSION),
                                             "task": str(full["task"])})
        full["weights_sha256"] = file_sha256(tmp)
        validate_sidecar(full, where=f"checkpoint {name!r}")  # what load_head will demand
        text = json.dumps(full, indent=2, sort_keys=True, ensure_ascii=False)
        _replace(tmp, weights)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp = _temp_beside(sidecar_path)
    try:
        tmp.write_text(text + "\n", encoding="utf-8")
        _replace(tmp, sidecar_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sidecar_path


# -- reading -----------------------------------------------------------------------------

def read_sidecar(path: Path | str) -> dict[str, Any]:
    """The validated sidecar of a checkpoint (named by either file or the stem)."""
    weights, sidecar_path = checkpoint_paths(path)
    if not sidecar_path.is_file():
        other = " (its weights are there: the checkpoint is incomplete)" \
            if weights.is_file() else ""
        raise CheckpointError(f"{sidecar_path}: no such sidecar{other}")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar_path}: not a readable JSON sidecar ({exc})") from exc
    validate_sidecar(sidecar, where=str(sidecar_path))
    return sidecar


def build_fusion_head(config: dict[str, Any]) -> nn.Module:
    """The default builder: ``FusionHead(FusionConfig.from_dict(config))``."""
    from dataclasses import fields

    from crisisdesk.core.fusion.model import FusionConfig, FusionHead

    # FusionConfig checks its integers and dropout, not every float: a lambda_init of
    # "0.8" (a hand edit) built a head that failed at its first prediction.
    for field in fields(FusionConfig):
        if isinstance(field.default, float) and field.name in config \
                and not _is_number(config[field.name]):
            raise ValueError(f"{field.name} must be a number, not {config[field.name]!r}")
    return FusionHead(FusionConfig.from_dict(config))


def load_head(path: Path | str, *, build: Callable[[dict[str, Any]], nn.Module] | None = None,
              device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a head from its checkpoint alone; return (model in eval mode, sidecar).

    ``path`` is the ``.json``, the ``.safetensors`` or their common stem. ``build`` makes
    an untrained model from ``sidecar["config"]`` (default: :func:`build_fusion_head`);
    the weights must then fit it exactly (strict). Raises CheckpointError for a missing
    half, a malformed sidecar, an unknown format, weights of another save, or weights
    that do not fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, _ = checkpoint_paths(path)
    sidecar = read_sidecar(path)
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such weights file (the sidecar is there: "
                              "the checkpoint is incomplete)")
    actual = file_sha256(weights)
    if actual != sidecar["weights_sha256"]:
        # Said for what it is (cut short by a partial copy, not safetensors, other bytes):
        # "another save" alone sent analysts looking for a save that never happened.
        raise CheckpointError(weights_damage(weights, sidecar["weights_sha256"], actual))
    build = build or build_fusion_head
    # The config is checked against the weights' header on a model built on the meta
    # device (shapes only): a hand-edited config (hidden 10**9, tokens 10**6) would
    # otherwise take gigabytes, or the OOM killer, before the shapes are compared.
    _check_shapes(weights, _build(build, sidecar["config"], weights, meta=True))
    model = _build(build, sidecar["config"], weights)
    try:
        state = load_file(str(weights), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from exc
    # NaN weights would load and "predict" the first class for every item, silently.
    broken = [key for key, value in state.items()
              if value.is_floating_point() and not bool(value.isfinite().all())]
    if broken:
        raise CheckpointError(f"{weights}: the weights hold NaN or infinite values "
                              f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''})"
                              "; train the head again")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, size mismatches
        raise CheckpointError(f"{weights}: the weights do not fit the model its config "
                              f"describes\n{exc}") from exc
    model.to(device)
    model.eval()
    return model, sidecar


def _build(build: Callable[[dict[str, Any]], nn.Module], config: dict[str, Any],
           weights: Path, *, meta: bool = False) -> nn.Module:
    """``build(config)``, on the meta device with ``meta`` (nothing allocated); its
    errors as a CheckpointError naming ``weights``."""
    import torch

    try:
        if meta:
            with torch.device("meta"):
                return build(config)
        return build(config)
    except CheckpointError:
        raise
    except Exception as exc:  # from_dict / the model's own checks: TypeError, ValueError...
        raise CheckpointError(f"{weights}: its config cannot build a model "
                              f"({type(exc).__name__}: {exc})") from exc


def _check_shapes(weights: Path, model: nn.Module) -> None:
    """CheckpointError unless the tensors the safetensors header lists are exactly the
    model's, shape for shape; reads the header only."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            stored = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from exc
    wanted = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problems = [f"missing {key}" for key in wanted if key not in stored]
    problems += [f"unexpected {key}" for key in stored if key not in wanted]
    problems += [f"size mismatch for {key}: {list(stored[key])} in the weights, "
                 f"{list(shape)} in the model" for key, shape in wanted.items()
                 if key in stored and stored[key] != shape]
    if problems:
        shown = "\n".join(f"\t{line}" for line in problems[:5])
        more = f"\n\t... and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise CheckpointError(f"{weights}: the weights do not fit the model its config "
                              f"describes\n{shown}{more}")


def check_encoders(sidecar: dict[str, Any], *, image_encoder: str | None,
                   text_encoder: str | None, image_dim: int | None = None,
                   text_dim: int | None = None) -> None:
    """Refuse to apply a head to embeddings made by other encoders than it was trained on.

    The keywords describe the project's embeddings; None means "not checked" (e.g. the
    project has no embeddings of that kind). Raises :class:`EncoderMismatch` naming the
    head's and the project's encoder (and dims) for every modality that differs.
    """
    given = {"image_encoder": image_encoder, "text_encoder": text_encoder,
             "image_dim": image_dim, "text_dim": text_dim}
    mismatches = [(key, sidecar.get(key), value) for key, value in given.items()
                  if value is not None and sidecar.get(key) is not None
                  and sidecar.get(key) != value]
    if not mismatches:
        return
    lines = []
    for kind in ("image", "text"):
        if not any(key.startswith(kind) for key, _, _ in mismatches):
            continue
        lines.append(f"{kind}: the head was trained on embeddings from "
                     f"{_describe(sidecar.get(f'{kind}_encoder'), sidecar.get(f'{kind}_dim'))}"
                     f", but this project's {kind} embeddings come from "
                     f"{_describe(given[f'{kind}_encoder'], given[f'{kind}_dim'])}")
    task = sidecar.get("task", "?")
    raise EncoderMismatch(f"this {task} head does not fit the project's embeddings: "
                          + "; ".join(lines)
                          + ". Embed the project with the head's encoders, or train a head "
                          "on the project's embeddings.", mismatches)


def _describe(encoder: str | None, dim: int | None) -> str:
    """``'clip-vit-b32' (512-d)``, or what is known of it."""
    name = repr(encoder) if encoder else "an encoder"
    return f"{name} ({dim}-d)" if dim else name
