"""The app shows a picture the way the models see it: upright by its EXIF orientation.

Qt's readers apply the EXIF orientation of JPEG and TIFF files but leave PNG and WebP files
as stored, while Pillow (and so CLIP, the captioner and the heat map drawn over the
picture) turns them: a phone's PNG was shown sideways under an upright heat map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from PySide6.QtGui import QImage

from crisisdesk.gui.thumbnails import decode_scaled


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, :w * 3].reshape(h, w, 3)


def _three_colours(width: int, height: int) -> Image.Image:
    """Left half red, right half blue above green: every turn and mirror looks different."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:, : width // 2] = (255, 0, 0)
    a[: height // 2, width // 2:] = (0, 0, 255)
    a[height // 2:, width // 2:] = (0, 255, 0)
    return Image.fromarray(a)


def _saved(tmp_path: Path, fmt: str, orientation: int, size: tuple[int, int]) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.{fmt.lower()}"
    _three_colours(*size).save(path, fmt, exif=exif,
                               **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    return path


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_picture_is_shown_upright_as_the_models_see_it(qapp, tmp_path, fmt,
                                                         orientation) -> None:
    path = _saved(tmp_path, fmt, orientation, (60, 30))
    with Image.open(path) as image:
        seen = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    shown = decode_scaled(str(path), 200)
    assert shown is not None
    pixels = _pixels(shown)
    assert pixels.shape == seen.shape
    assert np.abs(pixels.astype(int) - seen.astype(int)).mean() < 10


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_a_scaled_down_picture_is_turned_too(qapp, tmp_path, fmt) -> None:
    path = _saved(tmp_path, fmt, 6, (400, 200))  # stored landscape, shown portrait
    shown = decode_scaled(str(path), 100)
    assert shown is not None
    assert (shown.width(), shown.height()) == (50, 100)
    # A quarter turn clockwise: the stored left (red) is on top, the stored lower right
    # (green) at the lower left.
    pixels = _pixels(shown).astype(int)
    assert tuple(pixels[5, 25]) == pytest.approx((255, 0, 0), abs=40)
    assert tuple(pixels[95, 5]) == pytest.approx((0, 255, 0), abs=40)


def test_a_jpeg_turned_only_in_its_xmp_is_shown_as_the_models_see_it(qapp, tmp_path) -> None:
    """Pillow turns a picture by its XMP orientation when it has no EXIF tag (some
    editors write only XMP); Qt does not: the heat map was drawn over a sideways picture."""
    path = tmp_path / "xmp.jpg"
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
           b'1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/'
           b'tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    _three_colours(60, 30).save(path, "JPEG", quality=95, xmp=xmp)
    with Image.open(path) as image:
        assert "exif" not in image.info  # no EXIF block: the turn is in the XMP alone
        seen = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    assert seen.shape[:2] == (60, 30)  # Pillow: upright, a portrait
    shown = decode_scaled(str(path), 200)
    assert shown is not None
    pixels = _pixels(shown)
    assert pixels.shape == seen.shape
    assert np.abs(pixels.astype(int) - seen.astype(int)).mean() < 10
