"""Fusion head checkpoints: safetensors + JSON sidecar, rebuilt alone, never unpickled."""

from __future__ import annotations

import json
import pickle
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from crisisdesk.core.fusion.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    EncoderMismatch,
    check_encoders,
    load_head,
    read_sidecar,
    save_head,
)
from crisisdesk.core.fusion.model import FusionConfig, FusionHead

CLASSES = ["severe_damage", "mild_damage", "little_or_no_damage"]


@dataclass
class TinyConfig:
    """A stand-in config with the same contract as FusionConfig."""

    n_classes: int
    image_dim: int = 8
    text_dim: int = 6
    hidden: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TinyConfig:
        return cls(**d)


class TinyHead(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.image = nn.Linear(config.image_dim, config.hidden)
        self.text = nn.Linear(config.text_dim, config.hidden)
        self.out = nn.Linear(config.hidden, config.n_classes)
        self.norm = nn.LayerNorm(config.hidden)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.image(image) + self.text(text)))


def build_tiny(config: dict[str, Any]) -> nn.Module:
    return TinyHead(TinyConfig.from_dict(config))


def sidecar_for(config: Any, **changes: Any) -> dict[str, Any]:
    sidecar = {
        "config": config.to_dict(), "task": "damage", "classes": list(CLASSES),
        "image_encoder": "clip-vit-b32", "text_encoder": "clip-vit-b32",
        "image_dim": config.image_dim, "text_dim": config.text_dim,
        "text_source": "tweet+caption:llava-1.5-7b", "training_data_hash": "ab" * 32,
        "metrics": {"summary": {"accuracy": {"mean": 0.7, "std": 0.01, "n": 3}}},
        "temperature": 1.7, "recipe": {"lr": 0.001},
    }
    sidecar.update(changes)
    return sidecar


@pytest.fixture
def tiny_saved(tmp_path: Path) -> tuple[Path, nn.Module]:
    torch.manual_seed(0)
    model = TinyHead(TinyConfig(n_classes=3))
    path = save_head(tmp_path / "models", "damage-tiny", model,
                     sidecar_for(TinyConfig(n_classes=3)))
    return path, model


def tiny_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(5, 8, generator=generator), torch.randn(5, 6, generator=generator)


def edit_sidecar(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


# -- round trips -------------------------------------------------------------------------

def test_round_trip_gives_the_same_logits(tiny_saved: tuple[Path, nn.Module]) -> None:
    path, model = tiny_saved
    folder = path.parent
    assert sorted(p.name for p in folder.iterdir()) == ["damage-tiny.json",
                                                       "damage-tiny.safetensors"]
    model.eval()
    with torch.no_grad():
        expected = model(*tiny_inputs())
    for name in ("damage-tiny.json", "damage-tiny.safetensors", "damage-tiny"):
        loaded, sidecar = load_head(folder / name, build=build_tiny)
        assert not loaded.training
        with torch.no_grad():
            assert torch.equal(loaded(*tiny_inputs()), expected)
    assert sidecar["format"] == FORMAT_VERSION
    assert sidecar["classes"] == CLASSES
    assert sidecar["temperature"] == 1.7
    assert sidecar["recipe"] == {"lr": 0.001}  # extra keys are kept
    assert sidecar["created_at"].endswith("+00:00")
    assert len(sidecar["weights_sha256"]) == 64


@pytest.mark.parametrize("variant", ["guided_diff", "concat_mlp", "text_only"])
def test_round_trip_of_the_real_fusion_head(tmp_path: Path, variant: str) -> None:
    torch.manual_seed(0)
    config = FusionConfig(n_classes=3, image_dim=16, text_dim=12, variant=variant,
                          hidden=16, tokens=2, heads=2)
    model = FusionHead(config).eval()
    image, text = torch.randn(4, 16), torch.randn(4, 12)
    present = torch.tensor([True, False, True, True])
    with torch.no_grad():
        expected = model(image, text, present, None)
    sidecar = sidecar_for(config)
    if variant == "text_only":
        sidecar.update(image_encoder=None, image_dim=None, text_source="tweet")
    path = save_head(tmp_path, f"damage-{variant}", model, sidecar)
    loaded, read = load_head(path)  # the default builder: FusionHead(FusionConfig...)
    assert isinstance(loaded, FusionHead) and not loaded.training
    assert loaded.config == config
    assert read["config"] == config.to_dict()
    with torch.no_grad():
        assert torch.equal(loaded(image, text, present, None), expected)


def test_saving_again_replaces_the_pair_and_leaves_no_temp_files(tmp_path: Path) -> None:
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = TinyHead(TinyConfig(n_classes=3))
        path = save_head(tmp_path, "head", model, sidecar_for(TinyConfig(n_classes=3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.json", "head.safetensors"]
    loaded, _ = load_head(path, build=build_tiny)
    assert torch.equal(loaded.out.weight, model.out.weight)


# -- no pickles --------------------------------------------------------------------------

def test_no_pickle_is_written_or_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a checkpoint must never go through pickle")

    for module, name in [(torch, "load"), (torch, "save"), (pickle, "load"),
                         (pickle, "loads"), (pickle, "dump"), (pickle, "dumps")]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    model = TinyHead(TinyConfig(n_classes=3))
    path = save_head(tmp_path, "head", model, sidecar_for(TinyConfig(n_classes=3)))
    load_head(path, build=build_tiny)

    raw = (tmp_path / "head.safetensors").read_bytes()
    # safetensors: an 8-byte little-endian header length, a JSON header, raw tensor bytes.
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    assert set(header) - {"__metadata__"} == set(model.state_dict())
    assert header["__metadata__"]["crisisdesk_format"] == str(FORMAT_VERSION)
    assert not raw.startswith((b"\x80", b"PK"))  # neither a pickle nor a torch.save zip
    json.loads((tmp_path / "head.json").read_text(encoding="utf-8"))  # plain JSON


# -- refusals ----------------------------------------------------------------------------

def test_missing_halves_are_named(tiny_saved: tuple[Path, nn.Module]) -> None:
    path, _ = tiny_saved
    weights = path.with_suffix(".safetensors")
    kept = weights.read_bytes()
    weights.unlink()
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_head(path, build=build_tiny)
    weights.write_bytes(kept)
    path.unlink()
    with pytest.raises(CheckpointError, match="no such sidecar.*incomplete"):
        load_head(weights, build=build_tiny)
    with pytest.raises(CheckpointError, match="no such sidecar"):
        load_head(path.parent / "never-saved", build=build_tiny)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not a readable JSON sidecar"),
    ("[1, 2]", "expected a JSON object"),
    (None, "missing keys: temperature"),
    ("format=99", "unknown checkpoint format 99.*newer crisisdesk"),
    ("format=one", "format must be an integer"),
    ("n_classes", "config has 3 classes but the sidecar lists 2"),
    ("temperature=-1", "temperature must be a positive number"),
    ("image_dim", "image_dim 9 disagrees with the config's image_dim 8"),
], ids=["not-json", "not-object", "missing-key", "future-format", "bad-format",
        "classes-vs-config", "temperature", "dims-vs-config"])
def test_malformed_sidecars_are_refused(tiny_saved: tuple[Path, nn.Module], text: str | None,
                                        message: str) -> None:
    path, _ = tiny_saved
    data = json.loads(path.read_text(encoding="utf-8"))
    if text is None:
        del data["temperature"]
    elif text == "format=99":
        data["format"] = 99
    elif text == "format=one":
        data["format"] = "one"
    elif text == "n_classes":
        data["classes"] = CLASSES[:2]
    elif text == "temperature=-1":
        data["temperature"] = -1
    elif text == "image_dim":
        data["image_dim"] = 9
    if text is None or "=" in text or text in ("n_classes", "image_dim"):
        text = json.dumps(data)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CheckpointError, match=message):
        load_head(path, build=build_tiny)


def test_weights_that_do_not_fit_the_config_are_refused(
        tiny_saved: tuple[Path, nn.Module]) -> None:
    path, _ = tiny_saved
    config = json.loads(path.read_text(encoding="utf-8"))["config"]
    edit_sidecar(path, config={**config, "hidden": 5})
    with pytest.raises(CheckpointError, match="do not fit the model its config describes"):
        load_head(path, build=build_tiny)
    edit_sidecar(path, config={**config, "colour": "blue"})
    with pytest.raises(CheckpointError, match="config cannot build a model"):
        load_head(path, build=build_tiny)


def test_a_real_head_config_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    config = FusionConfig(n_classes=3, image_dim=16, text_dim=12, hidden=16, tokens=2,
                          heads=2)
    path = save_head(tmp_path, "head", FusionHead(config), sidecar_for(config))
    edit_sidecar(path, config={**config.to_dict(), "variant": "guided"})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_head(path)  # guided_diff weights hold a diff_attn block that guided lacks
    edit_sidecar(path, config={**config.to_dict(), "variant": "no-such-variant"})
    with pytest.raises(CheckpointError, match="unknown variant"):
        load_head(path)


def test_weights_from_another_save_are_refused(tmp_path: Path) -> None:
    for name, seed in (("one", 0), ("two", 1)):
        torch.manual_seed(seed)
        save_head(tmp_path, name, TinyHead(TinyConfig(n_classes=3)),
                  sidecar_for(TinyConfig(n_classes=3)))
    (tmp_path / "two.safetensors").replace(tmp_path / "one.safetensors")
    with pytest.raises(CheckpointError, match="not the ones its sidecar was written with"):
        load_head(tmp_path / "one", build=build_tiny)


def test_corrupt_weights_are_refused(tiny_saved: tuple[Path, nn.Module]) -> None:
    path, _ = tiny_saved
    weights = path.with_suffix(".safetensors")
    weights.write_bytes(b"\x80\x04garbage")
    edit_sidecar(path, weights_sha256=__import__("hashlib").sha256(
        weights.read_bytes()).hexdigest())
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_head(path, build=build_tiny)


@pytest.mark.parametrize(("changes", "message"), [
    ({"task": None}, "task must be"),
    ({"classes": []}, "classes must be a non-empty list"),
    ({"classes": ["a", "a", "b"]}, "classes repeat"),
    ({"image_dim": None}, "named without its image_dim"),
    ({"metrics": [0.7]}, "metrics must be an object"),
    ({"metrics": {"odd": object()}}, "not JSON"),
    ({"format": 7}, "writes format 1"),
], ids=["task", "no-classes", "repeated-classes", "dim", "metrics", "not-json", "format"])
def test_save_validates_the_sidecar_and_writes_nothing(tmp_path: Path,
                                                        changes: dict[str, Any],
                                                        message: str) -> None:
    config = TinyConfig(n_classes=3)
    with pytest.raises(CheckpointError, match=message):
        save_head(tmp_path, "head", TinyHead(config), sidecar_for(config, **changes))
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_save_requires_every_key(tmp_path: Path) -> None:
    config = TinyConfig(n_classes=3)
    sidecar = sidecar_for(config)
    del sidecar["training_data_hash"], sidecar["text_source"]
    with pytest.raises(CheckpointError, match="missing keys: text_source, training_data_hash"):
        save_head(tmp_path, "head", TinyHead(config), sidecar)


@pytest.mark.parametrize("name", ["", "../escape", "sub/head", ".hidden", "head.json"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    config = TinyConfig(n_classes=3)
    with pytest.raises(CheckpointError, match="bad checkpoint name"):
        save_head(tmp_path, name, TinyHead(config), sidecar_for(config))


def test_names_with_dots_keep_their_stem(tmp_path: Path) -> None:
    config = TinyConfig(n_classes=3)
    path = save_head(tmp_path, "damage-v1.2", TinyHead(config), sidecar_for(config))
    assert path.name == "damage-v1.2.json"
    assert read_sidecar(tmp_path / "damage-v1.2")["task"] == "damage"


# -- encoders ----------------------------------------------------------------------------

def test_matching_encoders_pass_and_none_is_not_checked() -> None:
    sidecar = sidecar_for(TinyConfig(n_classes=3))
    check_encoders(sidecar, image_encoder="clip-vit-b32", text_encoder="clip-vit-b32",
                   image_dim=8, text_dim=6)
    check_encoders(sidecar, image_encoder=None, text_encoder="clip-vit-b32")
    text_only = sidecar_for(TinyConfig(n_classes=3), image_encoder=None, image_dim=None)
    check_encoders(text_only, image_encoder="clip-vit-l14", text_encoder="clip-vit-b32",
                   image_dim=768)


def test_another_encoder_is_refused_naming_both_sides() -> None:
    sidecar = sidecar_for(TinyConfig(n_classes=3))
    with pytest.raises(EncoderMismatch) as caught:
        check_encoders(sidecar, image_encoder="clip-vit-l14", text_encoder="clip-vit-b32",
                       image_dim=768)
    message = str(caught.value)
    assert "'clip-vit-b32' (8-d)" in message and "'clip-vit-l14' (768-d)" in message
    assert "image" in message and "text:" not in message
    assert caught.value.mismatches == [("image_encoder", "clip-vit-b32", "clip-vit-l14"),
                                       ("image_dim", 8, 768)]
    assert isinstance(caught.value, CheckpointError)


def test_a_dim_mismatch_alone_is_refused() -> None:
    sidecar = sidecar_for(TinyConfig(n_classes=3))
    with pytest.raises(EncoderMismatch, match="text: .*'clip-vit-b32' \\(6-d\\).*"
                                              "'clip-vit-b32' \\(384-d\\)"):
        check_encoders(sidecar, image_encoder=None, text_encoder="clip-vit-b32",
                       text_dim=384)


def test_a_dim_mismatch_without_a_name_says_what_is_known() -> None:
    sidecar = sidecar_for(TinyConfig(n_classes=3))
    with pytest.raises(EncoderMismatch, match=r"from 'clip-vit-b32' \(8-d\), but this "
                                              r"project's image embeddings come from an "
                                              r"encoder \(512-d\)"):
        check_encoders(sidecar, image_encoder=None, text_encoder=None, image_dim=512)


def test_save_refuses_a_created_at_that_is_not_a_time_string(tmp_path: Path) -> None:
    config = TinyConfig(n_classes=3)
    with pytest.raises(CheckpointError, match="created_at must be"):
        save_head(tmp_path, "head", TinyHead(config), sidecar_for(config, created_at=5))
    assert list(tmp_path.iterdir()) == []


def test_loaded_sidecar_checks_against_the_project(tiny_saved: tuple[Path, nn.Module]
                                                   ) -> None:
    path, _ = tiny_saved
    _, sidecar = load_head(path, build=build_tiny)
    with pytest.raises(EncoderMismatch, match="minilm"):
        check_encoders(sidecar, image_encoder="clip-vit-b32", text_encoder="minilm")
