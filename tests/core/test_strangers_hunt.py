"""Files from strangers: a fusion head's sidecar edited by hand or written elsewhere.

A colleague's project or a downloaded head carries its own sidecar; absurd config values
in it must be refused with a message before the model is allocated, and values that
would make every prediction NaN must be refused at load, not stored as predictions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from crisisdesk.core.fusion.checkpoint import (
    CheckpointError,
    build_fusion_head,
    load_head,
    save_head,
)
from crisisdesk.core.fusion.model import FusionConfig, FusionHead

CLASSES = ["severe_damage", "mild_damage", "little_or_no_damage"]


def saved_head(folder: Path) -> Path:
    """A small real guided_diff head saved as a checkpoint; returns its sidecar."""
    torch.manual_seed(0)
    config = FusionConfig(n_classes=3, image_dim=16, text_dim=12, hidden=16, tokens=2,
                          heads=2)
    sidecar = {
        "config": config.to_dict(), "task": "damage", "classes": list(CLASSES),
        "image_encoder": "clip-vit-b32", "text_encoder": "clip-vit-b32",
        "image_dim": 16, "text_dim": 12, "text_source": "tweet",
        "training_data_hash": "ab" * 32, "metrics": {}, "temperature": 1.0,
    }
    return save_head(folder, "damage-head", FusionHead(config), sidecar)


def edit_config(path: Path, **changes: Any) -> None:
    """Change the sidecar's config (and its dims, kept in step) as a hand edit would."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["config"].update(changes)
    for key in ("image_dim", "text_dim"):
        if key in changes:
            data[key] = changes[key]
    path.write_text(json.dumps(data), encoding="utf-8")  # NaN written as JSON's NaN


@pytest.mark.parametrize("changes", [{"tokens": 10**6}, {"hidden": 2**24},
                                     {"text_dim": 4 * 10**8}],
                         ids=["tokens", "hidden", "text_dim"])
def test_an_absurd_config_is_refused_before_the_model_is_allocated(
        tmp_path: Path, changes: dict[str, int]) -> None:
    path = saved_head(tmp_path)
    edit_config(path, **changes)
    built_on: list[str] = []

    def build(config: dict[str, Any]) -> nn.Module:
        # Where the builder makes its tensors: "meta" allocates nothing. On the CPU this
        # config would take gigabytes (or the OOM killer) before the weights are read.
        device = torch.empty(()).device.type
        built_on.append(device)
        if device != "meta":
            raise AssertionError("the model was built for real before its shapes were "
                                 "checked against the weights")
        return build_fusion_head(config)

    with pytest.raises(CheckpointError, match="do not fit the model its config describes"):
        load_head(path, build=build)
    assert built_on == ["meta"]


def test_a_matching_config_still_loads_with_its_own_weights(tmp_path: Path) -> None:
    path = saved_head(tmp_path)
    model, _ = load_head(path)
    expected = FusionHead(FusionConfig.from_dict(json.loads(path.read_text())["config"]))
    from safetensors.torch import load_file
    expected.load_state_dict(load_file(path.with_suffix(".safetensors")))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                expected.state_dict().values(), strict=True))
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_config_number_is_refused(tmp_path: Path, value: float) -> None:
    # lambda_init NaN loads without complaint and makes every logit NaN.
    path = saved_head(tmp_path)
    edit_config(path, lambda_init=value)
    with pytest.raises(CheckpointError, match=r"damage-head\.json: config lambda_init "
                                              r"must be a finite number"):
        load_head(path)


@pytest.mark.parametrize("value", ["0.8", True, None])
def test_a_fusion_config_number_given_as_something_else_is_refused(
        tmp_path: Path, value: Any) -> None:
    # FusionConfig does not check lambda_init: "0.8" loaded and every prediction then
    # stopped on a TypeError deep in the forward pass.
    path = saved_head(tmp_path)
    edit_config(path, lambda_init=value)
    with pytest.raises(CheckpointError, match=r"damage-head\.safetensors: its config cannot "
                                              r"build a model .*lambda_init must be a number"):
        load_head(path)


# -- images: a scraped strip ---------------------------------------------------------------

def clip_loader(seen: list[tuple[int, int]]) -> Any:
    """A ClipImageLoader with open_clip's own eval transform (shortest-side resize to 224,
    centre crop), whose Pillow steps record the size they are handed."""
    import open_clip

    from crisisdesk.core.encoders.clip_images import ClipImageLoader, split_preprocess

    preprocess = open_clip.image_transform(224, is_train=False)
    steps, _, _ = split_preprocess(preprocess)

    def recorded(image: Any) -> Any:
        seen.append(image.size)
        width, height = image.size
        if max(width, height) > 100 * min(width, height) + 1:  # +1: an even margin
            # Resized as it is, the strip would take gigabytes (224 x 4,480,000 RGB).
            raise AssertionError(f"a {width}x{height} image reached the resize")
        return steps(image)

    return ClipImageLoader(224, recorded, preprocess)


@pytest.mark.parametrize("size", [(20000, 1), (3, 30001)], ids=["wide", "tall"])
def test_a_thin_strip_is_cropped_to_its_centre_before_the_clip_resize(
        tmp_path: Path, size: tuple[int, int]) -> None:
    # A 143-byte PNG of 20000x1 pixels passes the import (20,000 pixels); CLIP's
    # shortest-side resize made it 224 x 4,480,000 (4.8 GB, 13 s) to keep 224 x 224.
    from PIL import Image

    path = tmp_path / "strip.png"
    Image.new("RGB", size, (200, 10, 10)).save(path)
    seen: list[tuple[int, int]] = []
    pixels = clip_loader(seen)(path)
    assert tuple(pixels.shape) == (3, 224, 224)
    assert bool((pixels[0] == 200).all()) and bool((pixels[1] == 10).all())
    assert len(seen) == 1 and max(seen[0]) <= 100 * min(seen[0]) + 1


def test_an_ordinary_wide_image_reaches_the_resize_whole(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "panorama.png"
    Image.new("RGB", (4000, 500), (0, 90, 180)).save(path)
    seen: list[tuple[int, int]] = []
    clip_loader(seen)(path)
    assert seen == [(4000, 500)]


# -- images: big metadata ------------------------------------------------------------------

def png_with(path: Path, *, xmp_chars: int = 0, icc_bytes: int = 0) -> Path:
    """A 64x48 PNG carrying a compressed XMP text chunk and/or an ICC profile."""
    import os

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if xmp_chars:
        info.add_itxt("XML:com.adobe.xmp", "x" * xmp_chars, zip=True)
    extra = {"icc_profile": os.urandom(icc_bytes)} if icc_bytes else {}
    Image.new("RGB", (64, 48), (1, 2, 3)).save(path, pnginfo=info, **extra)
    return path


@pytest.mark.parametrize("kind", ["xmp", "icc"])
def test_a_png_with_a_few_megabytes_of_metadata_is_read(tmp_path: Path, kind: str) -> None:
    # Photoshop's XMP history and scanners' colour profiles pass 1 MB; Pillow's default
    # limit for an unpacked PNG text or profile chunk is 1 MB, and such photos (which
    # the thumbnails show) were imported as unreadable with Pillow's constant's name.
    from crisisdesk.core.imaging import inspect_image

    path = png_with(tmp_path / f"{kind}.png", **({"xmp_chars": 3 * 1024 * 1024}
                                                 if kind == "xmp" else
                                                 {"icc_bytes": 3 * 1024 * 1024}))
    facts = inspect_image(path)
    assert (facts.status, facts.width, facts.height) == ("ok", 64, 48), facts.reason


def test_a_png_whose_metadata_is_a_zip_bomb_is_refused_in_words(tmp_path: Path) -> None:
    from crisisdesk.core.imaging import inspect_image

    path = png_with(tmp_path / "bomb.png", xmp_chars=200 * 1024 * 1024)
    assert path.stat().st_size < 1024 * 1024  # 200 MB of text zipped
    facts = inspect_image(path)
    assert facts.status == "unreadable"
    assert facts.reason is not None and "metadata" in facts.reason \
        and "MAX_TEXT" not in facts.reason


# -- a project folder from a colleague on another system -----------------------------------

def _windows_copy(tmp_path: Path) -> tuple[Path, str]:
    """A project with one imported image and a head in models/, as crisisdesk on Windows
    left it at C:\\Users\\col\\proj (its stored paths and folder written there), then
    copied here; returns (the copy's folder, its image's file name)."""
    import sqlite3

    from PIL import Image

    from crisisdesk.core.importers import ImportJob, ImportOptions
    from crisisdesk.core.project import Project

    source = tmp_path / "pictures"
    source.mkdir()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(source / "flood.png")
    (source / "flood.txt").write_text("water in the street", encoding="utf-8")
    archive = tmp_path / "posts.zip"
    import zipfile
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source / "flood.png", "flood.png")
        zf.write(source / "flood.txt", "flood.txt")
    here = tmp_path / "copy"
    project = Project.open(here, create=True)
    list(ImportJob(project, [archive], ImportOptions()).run())
    head = saved_head(here / "models")
    with project.open_store() as store:
        store.add_model_version("damage", "colleague-head", str(head))
    windows = "C:\\Users\\col\\proj"
    with sqlite3.connect(here / "project.sqlite") as conn:
        for table in ("media", "model_versions"):
            for rowid, path in conn.execute(f"SELECT rowid, path FROM {table}").fetchall():
                assert path.startswith(str(here)), path
                path = windows + path[len(str(here)):].replace("/", "\\")
                conn.execute(f"UPDATE {table} SET path = ? WHERE rowid = ?", [path, rowid])
        conn.execute("UPDATE meta SET value = ? WHERE key IN "
                     "('project_folder', 'project_folder_real')", [windows])
    conn.close()
    return here, "flood.png"


def test_a_project_copied_from_windows_finds_its_own_images_and_heads(tmp_path: Path) -> None:
    from crisisdesk.core.project import Project

    here, name = _windows_copy(tmp_path)
    with Project.open(here).open_store() as store:
        images = [Path(i.path) for i in store.images_without_embedding("some-encoder")]
        heads = [Path(v["path"]) for v in store.model_versions("damage")]
    assert [p.name for p in images] == [name]
    for path in images + heads:
        assert path.is_relative_to(here) and path.is_file(), path
