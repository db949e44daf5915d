"""What the encoders and captioners see of pictures in the modes posts carry: transparent
pixels over white (a black logo on a transparent background stays a logo), 16-bit grey
scaled, CMYK in its colours, phone photos upright.

The pictures are made here with Pillow, a few pixels each: a dark mark on a background
that is transparent, whose hidden colour is black (what most editors store there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crisisdesk.core.encoders.clip_images import ClipImageLoader, PillowSteps
from crisisdesk.core.imaging import open_image, upright_rgb

SIDE = 64
MARK = (20, 20, 40, 40)  # the opaque square in the middle


def _rgba(path: Path, fmt: str, **options) -> None:
    image = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), MARK)
    image.save(path, format=fmt, **options)


def _la(path: Path) -> None:
    image = Image.new("LA", (SIDE, SIDE), (0, 0))
    image.paste((0, 255), MARK)
    image.save(path)


def _palette(path: Path, fmt: str) -> None:
    image = Image.new("P", (SIDE, SIDE), 0)
    image.putpalette([0, 0, 0, 0, 0, 0])  # index 0 transparent, 1 the black mark
    image.paste(1, MARK)
    image.save(path, format=fmt, transparency=0)


def _rgb_with_trns(path: Path) -> None:
    image = Image.new("RGB", (SIDE, SIDE), (0, 0, 0))
    image.paste((200, 0, 0), MARK)
    image.save(path, transparency=(0, 0, 0))  # PNG tRNS: black is see-through


TRANSPARENT: dict[str, tuple[str, Callable[[Path], None]]] = {
    "rgba-png": ("logo.png", lambda p: _rgba(p, "PNG")),
    "rgba-webp-lossless": ("logo.webp", lambda p: _rgba(p, "WEBP", lossless=True)),
    "la-png": ("logo.png", _la),
    "palette-png": ("logo.png", lambda p: _palette(p, "PNG")),
    "palette-gif": ("logo.gif", lambda p: _palette(p, "GIF")),
    "rgb-trns-png": ("logo.png", _rgb_with_trns),
}


def _seen(path: Path) -> np.ndarray:
    with open_image(path) as image:
        image.load()
        return np.asarray(upright_rgb(image))


@pytest.mark.parametrize("kind", list(TRANSPARENT))
def test_transparent_pixels_are_white_not_black_for_the_models(tmp_path: Path,
                                                                kind: str) -> None:
    name, make = TRANSPARENT[kind]
    path = tmp_path / name
    make(path)
    pixels = _seen(path)
    assert pixels.shape == (SIDE, SIDE, 3)
    assert (pixels[0, 0] == 255).all(), pixels[0, 0]  # the background
    assert pixels[30, 30].max() <= 200 and pixels[30, 30].tolist() != [255, 255, 255]


def test_half_transparent_pixels_are_mixed_with_white(tmp_path: Path) -> None:
    path = tmp_path / "shadow.png"
    Image.new("RGBA", (4, 4), (0, 0, 0, 128)).save(path)
    assert abs(int(_seen(path)[0, 0, 0]) - 127) <= 1


def test_the_clip_loader_sees_a_transparent_logo_on_white(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    _rgba(path, "PNG")
    loader = ClipImageLoader(SIDE, PillowSteps((("mode", "RGB"),)), None)
    pixels = loader(path)  # [C, H, W]
    assert (pixels[:, 0, 0] == 255).all() and (pixels[:, 30, 30] == 0).all()


def test_an_opaque_picture_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    Image.fromarray(photo).save(path)
    assert np.array_equal(_seen(path), photo)


def test_sixteen_bit_grey_is_scaled_not_clipped_white(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(path)
    with open_image(path) as image:
        assert image.mode.startswith("I")
    assert _seen(path)[0, 0].tolist() == [155, 155, 155]


def test_a_cmyk_jpeg_keeps_its_colours(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path)  # red in ink
    red, green, blue = _seen(path)[8, 8].tolist()
    assert red > 200 and green < 50 and blue < 50


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_exif_rotated_photo_is_seen_upright(tmp_path: Path, fmt: str) -> None:
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 0, 10, 20))  # blue on the stored left edge
    exif = stored.getexif()
    exif[0x0112] = 6  # turn a quarter clockwise to view: the left edge goes on top
    path = tmp_path / f"phone.{fmt.lower()}"
    stored.save(path, format=fmt, exif=exif.tobytes())
    pixels = _seen(path)
    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 10, 2] > 200 and pixels[38, 10, 0] > 200  # blue on top, red below


def test_a_transparent_exif_rotated_png_is_upright_and_on_white(tmp_path: Path) -> None:
    stored = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    stored.paste((0, 0, 0, 255), (0, 0, 10, 20))
    exif = stored.getexif()
    exif[0x0112] = 6
    path = tmp_path / "sticker.png"
    stored.save(path, exif=exif.tobytes())
    pixels = _seen(path)
    assert pixels.shape == (40, 20, 3)
    assert (pixels[2, 10] == 0).all() and (pixels[38, 10] == 255).all()
