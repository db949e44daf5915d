"""ClipEncoder on a tiny open_clip CLIP (real classes, random weights, no network)."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import open_clip.pretrained
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFile
from tiny_clip import ARCH, make_tiny_clip  # tests/ is on sys.path (conftest.py)

from crisisdesk.core.encoders.base import EncoderError, token_windows
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.clip_loading import fold_quick_gelu, inference_precision

TAG = "crisisdesk_test"  # open_clip cleans tags to lower case with "_" for "-"

TEXTS = ["a flooded street with cars", "smoke over the hills", ""]


class NotATensor:
    """Any class: a pickle that holds it is refused by torch.load(weights_only=True)."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to connect somewhere fails the test loudly."""
    def refuse(self: socket.socket, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def pretrained_tag(monkeypatch: pytest.MonkeyPatch, tiny: dict[str, Any]) -> str:
    """Register the tiny weights as open_clip pretrained tag ``crisisdesk_test``.

    open_clip 3.3.0 resolves a tag through ``pretrained._PRETRAINED[arch][tag]``; its
    ``download_pretrained`` returns ``cfg["file"]`` as is when the entry has a ``file`` key,
    before any URL or hub look-up, so a local file makes an offline tag. (The other way,
    ``pretrained=<path>``, is what the "file" route uses.) The entry also carries the
    preprocessing and quick_gelu flags, like open_clip's own entries.
    """
    entry = {"file": str(tiny["file"]), "quick_gelu": True,
             "mean": open_clip.OPENAI_DATASET_MEAN, "std": open_clip.OPENAI_DATASET_STD,
             "interpolation": "bicubic", "resize_mode": "shortest"}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, ARCH, {TAG: entry})
    return TAG


@pytest.fixture(scope="module")
def encoder(tiny: dict[str, Any]) -> ClipEncoder:
    return ClipEncoder.load("tiny/file", arch=tiny["arch"], route="file", source=tiny["file"])


def photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A smooth, asymmetric test picture (gradients and shapes, like a photo)."""
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    rgb = np.stack([255 * x * np.ones_like(y), 255 * y * np.ones_like(x),
                    255 * (1 - x) * y], axis=-1).astype(np.uint8)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        draw.ellipse((x0, y0, x0 + width // 4, y0 + height // 5),
                     fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw.rectangle((0, 0, width // 6, height // 3), fill=(250, 20, 20))  # marks a corner
    return image


def save_jpeg(image: Image.Image, path: Path, **kwargs: Any) -> Path:
    image.save(path, "JPEG", quality=95, **kwargs)
    return path


# -- loading -------------------------------------------------------------------------


def test_routes_give_the_same_embeddings(tiny: dict[str, Any], tmp_path: Path,
                                         no_network: None, pretrained_tag: str) -> None:
    encoders = {
        "file": ClipEncoder.load("t", arch=ARCH, route="file", source=tiny["file"]),
        "pt": ClipEncoder.load("t", arch=ARCH, route="file", source=tiny["pt"]),
        "hub-cache": ClipEncoder.load("t", arch=ARCH, route="hub-cache", source=tiny["file"]),
        "folder": ClipEncoder.load("t", arch=None, route="folder", source=tiny["folder"]),
        "pretrained": ClipEncoder.load("t", arch=ARCH, route="pretrained",
                                       source=pretrained_tag),
    }
    image_path = save_jpeg(photo(), tmp_path / "photo.jpg")
    reference = None
    for route, enc in encoders.items():
        assert enc.dim == 32 and enc.device == "cpu", route
        pixels = enc.load_image(image_path)
        vectors, _ = enc.encode_images([pixels])
        texts = enc.encode_texts(TEXTS).vectors
        if reference is None:
            reference = (pixels, vectors, texts)
            continue
        assert torch.equal(pixels, reference[0]), route  # same preprocessing
        np.testing.assert_allclose(vectors, reference[1], atol=1e-6, err_msg=route)
        np.testing.assert_allclose(texts, reference[2], atol=1e-6, err_msg=route)
    # and they are the weights of the file (with QuickGELU folded), not a random init
    model = encoders["folder"].model
    for key, value in tiny["state_dict"].items():
        if ".mlp.c_fc." in key:
            value = value * 1.702
        elif key.endswith(".mlp.c_proj.weight"):
            value = value / 1.702
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-6, atol=0,
                                   msg=key)


def test_loaded_model_is_frozen_eval_fp32_on_cpu(encoder: ClipEncoder) -> None:
    params = list(encoder.model.parameters())
    assert params and not any(p.requires_grad for p in params)
    assert all(p.dtype == torch.float32 for p in params)
    assert not any(module.training for module in encoder.model.modules())
    assert encoder.kinds == {"image", "text"}
    vectors, _ = encoder.encode_images([torch.zeros(3, 32, 32)])
    assert vectors.dtype == np.float32 and vectors.shape == (1, 32)
    assert np.isclose(np.linalg.norm(vectors), 1.0, atol=1e-5)


def open_clip_vectors(model: Any, images: torch.Tensor, texts: list[str]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised fp32 image and text vectors of a plain open_clip model."""
    dtype = next(model.parameters()).dtype
    with torch.inference_mode():
        return (F.normalize(model.encode_image(images.to(dtype)).float(), dim=-1),
                F.normalize(model.encode_text(open_clip.get_tokenizer(ARCH)(texts)).float(),
                            dim=-1))


def test_quickgelu_is_folded_into_silu_computing_the_same_vectors(
        encoder: ClipEncoder, tiny: dict[str, Any]) -> None:
    from open_clip.transformer import QuickGELU

    # open_clip builds the architecture with QuickGELU; the encoder runs SiLU instead
    reference = open_clip.create_model(ARCH, pretrained=str(tiny["file"])).eval()
    assert sum(isinstance(m, QuickGELU) for m in reference.modules()) == 4
    assert not any(isinstance(m, QuickGELU) for m in encoder.model.modules())
    assert sum(isinstance(m, torch.nn.SiLU) for m in encoder.model.modules()) == 4
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    want_images, want_texts = open_clip_vectors(reference, images, TEXTS)
    got_images, _ = encoder.encode_images(list(images))
    np.testing.assert_allclose(got_images, want_images.numpy(), atol=1e-5)
    np.testing.assert_allclose(encoder.encode_texts(TEXTS).vectors, want_texts.numpy(),
                               atol=1e-5)
    # ...and the function is still QuickGELU: the same weights with GELU differ
    for block in [*reference.visual.transformer.resblocks, *reference.transformer.resblocks]:
        block.mlp.gelu = torch.nn.GELU()
    gelu_images, _ = open_clip_vectors(reference, images, TEXTS)
    assert float((gelu_images - torch.from_numpy(got_images)).abs().max()) > 1e-3


def test_all_fp16_with_the_fold_stays_within_fp16_rounding(tiny: dict[str, Any]) -> None:
    """The CUDA set-up (all weights fp16, QuickGELU folded), run here on the CPU: the
    fold's rescaled fp16 weights cost no more accuracy than fp16 itself."""
    reference = open_clip.create_model(ARCH, pretrained=str(tiny["file"])).eval()
    precision = inference_precision(torch.device("cuda", 0))
    half = open_clip.create_model(ARCH, pretrained=str(tiny["file"]),
                                  precision=precision).eval()
    assert all(p.dtype == torch.float16 for p in half.parameters())  # LayerNorms too
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    want = open_clip_vectors(reference, images, TEXTS)
    before = open_clip_vectors(half, images, TEXTS)
    assert fold_quick_gelu(half) == 4
    after = open_clip_vectors(half, images, TEXTS)
    for w, b, a in zip(want, before, after, strict=True):
        error_before, error_after = float((b - w).abs().max()), float((a - w).abs().max())
        assert error_after < 5e-3 and error_after <= 2 * error_before + 5e-4


def test_pickled_objects_are_refused(tiny: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "evil.pt"
    torch.save({"state_dict": tiny["state_dict"], "extra": NotATensor()}, bad)
    with pytest.raises(EncoderError, match="weights_only"):
        ClipEncoder.load("t", arch=ARCH, route="file", source=bad)


@pytest.mark.parametrize(("arch", "route", "source", "message"), [
    (ARCH, "file", "missing.safetensors", "no such checkpoint file"),
    (None, "file", "FILE", "needs the open_clip architecture"),
    ("no-such-arch", "file", "FILE", "no architecture"),
    (ARCH, "pretrained", "nonexistent-tag", "no pretrained weights"),
    (None, "folder", "EMPTY", "no open_clip_config.json"),
    (None, "folder", "NOWEIGHTS", "has no weights"),
    (ARCH, "carrier-pigeon", "FILE", "unknown model route"),
], ids=["missing-file", "no-arch", "bad-arch", "bad-tag", "not-a-model-folder",
        "folder-without-weights", "bad-route"])
def test_load_errors_say_what_is_wrong(tiny: dict[str, Any], tmp_path: Path, no_network: None,
                                       arch: str | None, route: str, source: str,
                                       message: str) -> None:
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "NOWEIGHTS").mkdir()
    (tmp_path / "NOWEIGHTS" / "open_clip_config.json").write_text(
        (tiny["folder"] / "open_clip_config.json").read_text())
    paths = {"FILE": tiny["file"], "EMPTY": tmp_path / "EMPTY",
             "NOWEIGHTS": tmp_path / "NOWEIGHTS"}
    with pytest.raises(EncoderError, match=message):
        ClipEncoder.load("t", arch=arch, route=route,
                         source=paths.get(source, tmp_path / source))


def test_wrong_architecture_for_the_weights(tiny: dict[str, Any]) -> None:
    with pytest.raises(EncoderError, match="do not fit this architecture"):
        ClipEncoder.load("t", arch="RN50", route="file", source=tiny["file"])


# -- images --------------------------------------------------------------------------


def test_exif_orientation_is_applied(encoder: ClipEncoder, tmp_path: Path) -> None:
    # Small (under twice the input size: no draft scaling) and not square, so a wrong
    # orientation crops differently.
    picture = photo(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    tagged = save_jpeg(picture, tmp_path / "tagged.jpg", exif=exif)
    with Image.open(tagged) as raw:
        stored = raw.convert("RGB")  # the pixels as stored, before orientation
    upright = stored.transpose(Image.Transpose.ROTATE_270)  # what a viewer shows
    assert upright.size == (40, 60)
    upright.save(tmp_path / "upright.png")
    stored.save(tmp_path / "stored.png")

    loaded = encoder.load_image(tagged)
    assert torch.equal(loaded, encoder.load_image(tmp_path / "upright.png"))
    assert not torch.allclose(loaded, encoder.load_image(tmp_path / "stored.png"))


def test_jpeg_draft_decoding_is_close_to_full_decoding(encoder: ClipEncoder,
                                                       tmp_path: Path) -> None:
    path = save_jpeg(photo(640, 480), tmp_path / "big.jpg")
    with Image.open(path) as image:
        image.draft("RGB", (encoder.input_side, encoder.input_side))
        assert image.size == (80, 60)  # 1/8 scale: both sides stay >= 32
    fast = encoder.model_input([encoder.load_image(path)])[0]
    with Image.open(path) as image:
        full = encoder.preprocess(image.convert("RGB"))
    assert fast.shape == full.shape == (3, 32, 32)
    # Normalised pixel units (~1/0.27 per unit of intensity): a small mean difference.
    assert (fast - full).abs().mean() < 0.05
    vectors, _ = encoder.encode_images([fast, full])
    assert float(vectors[0] @ vectors[1]) > 0.99


def test_no_draft_when_the_reduced_image_would_be_too_small(encoder: ClipEncoder,
                                                           tmp_path: Path) -> None:
    path = save_jpeg(photo(63, 40), tmp_path / "small.jpg")  # 1/2 scale would give 20 < 32
    with Image.open(path) as image:
        full = encoder.preprocess(image.convert("RGB"))
    # Scaling and normalising on the device gives exactly open_clip's own preprocessing.
    assert torch.equal(encoder.model_input([encoder.load_image(path)])[0], full)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_images_raise_with_a_reason(encoder: ClipEncoder, tmp_path: Path,
                                               damage: str) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8)
                    ).save(buffer, "JPEG", quality=90)
    data = {"truncated": buffer.getvalue()[: len(buffer.getvalue()) // 2],
            "garbage": b"this is not a picture" * 50, "empty": b""}[damage]
    path = tmp_path / f"{damage}.jpg"
    path.write_bytes(data)
    with pytest.raises((OSError, ValueError)) as caught:
        encoder.load_image(path)
    message = str(caught.value)
    assert str(path) in message
    assert ("truncated" in message) if damage == "truncated" else ("cannot identify" in message)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_16_bit_greyscale_is_scaled_not_clipped_to_white(encoder: ClipEncoder,
                                                         tmp_path: Path) -> None:
    # A 16-bit PNG opens in Pillow as mode I;16; its plain convert("RGB") clips every
    # value above 255, so a photo came out white. It must look like its 8-bit version.
    grey = np.asarray(photo(60, 40).convert("L"), dtype=np.uint16)
    Image.fromarray(grey * 257).save(tmp_path / "deep.png")  # 16-bit: 0..65535
    Image.fromarray(grey.astype(np.uint8)).save(tmp_path / "plain.png")
    with Image.open(tmp_path / "deep.png") as deep:
        assert deep.mode == "I;16"
    assert torch.equal(encoder.load_image(tmp_path / "deep.png"),
                       encoder.load_image(tmp_path / "plain.png"))


def test_missing_image_raises_file_not_found(encoder: ClipEncoder, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        encoder.load_image(tmp_path / "nope.jpg")


def test_patch_tokens(encoder: ClipEncoder, tmp_path: Path) -> None:
    images = [encoder.load_image(save_jpeg(photo(seed=s), tmp_path / f"{s}.jpg"))
              for s in range(3)]
    pooled, none = encoder.encode_images(images)
    assert none is None
    with_patches, tokens = encoder.encode_images(images, patches=True)
    assert tokens is not None and tokens.dtype == np.float32
    assert tokens.shape == (3, (32 // 8) ** 2, encoder.dim)
    assert np.isfinite(tokens).all()
    np.testing.assert_allclose(np.linalg.norm(tokens, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(with_patches, pooled, atol=1e-6)
    # The model was put back: a plain call still returns pooled vectors only.
    assert encoder.model.visual.output_tokens is False
    again, _ = encoder.encode_images(images)
    np.testing.assert_allclose(again, pooled, atol=1e-6)
    # Patch tokens are in the pooled vector's space: ln_post then proj, like the CLS token.
    visual = encoder.model.visual
    with torch.inference_mode():
        x = visual.transformer(visual._embeds(encoder.model_input(images)))
        x = visual.ln_post(x) @ visual.proj
    np.testing.assert_allclose(tokens, F.normalize(x[:, 1:], dim=-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(pooled, F.normalize(x[:, 0], dim=-1).numpy(), atol=1e-5)


def test_no_images(encoder: ClipEncoder) -> None:
    vectors, tokens = encoder.encode_images([], patches=True)
    assert vectors.shape == (0, 32) and tokens is not None and tokens.shape == (0, 16, 32)


# -- texts ---------------------------------------------------------------------------


def plain_open_clip(encoder: ClipEncoder, texts: list[str]) -> np.ndarray:
    """What open_clip itself gives (its tokenizer truncates at the context)."""
    tokenizer = open_clip.get_tokenizer(ARCH)
    with torch.inference_mode():
        return F.normalize(encoder.model.encode_text(tokenizer(texts)), dim=-1).numpy()


def test_short_texts_equal_plain_open_clip(encoder: ClipEncoder) -> None:
    texts = ["A flooded   street, with CARS!", "smoke over the hills", "", "émoji 🔥 fire"]
    batch = encoder.encode_texts(texts)
    assert batch.windowed == 0
    assert batch.vectors.shape == (4, 32) and batch.vectors.dtype == np.float32
    np.testing.assert_allclose(batch.vectors, plain_open_clip(encoder, texts), atol=1e-6)
    # the token rows are exactly what open_clip's tokenizer builds
    tokenizer = open_clip.get_tokenizer(ARCH)
    rows = encoder._token_rows([encoder.token_ids(t) for t in texts])
    assert torch.equal(rows, tokenizer(texts))


def test_long_text_is_windowed_not_truncated(encoder: ClipEncoder) -> None:
    words = [f"word{i % 37} street{i % 11}" for i in range(150)]  # 300 words
    long_text = " ".join(words)
    ids = encoder.token_ids(long_text)
    assert len(ids) > 300
    batch = encoder.encode_texts(["short text", long_text])
    assert batch.windowed == 1
    # Not what open_clip's truncating tokenizer gives (its first 75 tokens only)...
    first_75 = encoder._encode_windows([ids[:75]])[0]
    truncated = plain_open_clip(encoder, [long_text])[0]
    np.testing.assert_allclose(first_75, truncated, atol=1e-6)
    assert float(batch.vectors[1] @ first_75) < 0.9999
    # ...but the mean of every window's vector, and the windows cover every token.
    windows = token_windows(ids, size=75, overlap=75 // 4)
    assert len(windows) >= 5 and windows[-1][-1] == ids[-1]
    expected = encoder._encode_windows(windows).mean(axis=0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(batch.vectors[1], expected, atol=1e-6)
    np.testing.assert_allclose(batch.vectors[0], plain_open_clip(encoder, ["short text"])[0],
                               atol=1e-6)


def test_no_texts(encoder: ClipEncoder) -> None:
    batch = encoder.encode_texts([])
    assert batch.vectors.shape == (0, 32) and batch.windowed == 0


def test_tokenizer_attributes_used_exist() -> None:
    tokenizer = open_clip.get_tokenizer(ARCH)
    assert isinstance(tokenizer, open_clip.SimpleTokenizer)
    assert tokenizer.sot_token_id == tokenizer.encoder["<start_of_text>"] == 49406
    assert tokenizer.eot_token_id == tokenizer.encoder["<end_of_text>"] == 49407
    assert tokenizer.context_length == 77


def test_a_batch_encoded_in_pieces_gives_the_same_vectors(encoder: ClipEncoder,
                                                          tmp_path: Path) -> None:
    """stage_pieces (staging the next piece while the GPU encodes the last) changes
    when work happens, never the vectors or their order."""
    paths = [save_jpeg(photo(seed=i), tmp_path / f"{i}.jpg") for i in range(7)]
    images = [encoder.load_image(p) for p in paths]
    whole, _ = encoder.encode_images(images)
    try:
        encoder.stage_pieces = 3
        pieces, _ = encoder.encode_images(images)
    finally:
        encoder.stage_pieces = 1
    assert pieces.shape == whole.shape and np.allclose(pieces, whole, atol=1e-5)
