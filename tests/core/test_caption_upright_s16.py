"""A phone photo stored sideways (EXIF orientation 6 or 8) reaches the captioner upright.

Phones store a portrait photo as landscape pixels and a tag that says how to turn it.
A captioner handed the stored pixels describes a picture lying on its side ("a tilted
street", people lying down): both captioners, the local model and a server, must get
the picture as a viewer shows it. The photos here are built upright, then stored turned
the other way with the tag, so the expected picture never comes from the code under test.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from caption_fixtures import (  # noqa: F401 - fixtures used by name
    tiny_llava_dir,
    tiny_llava_fp32,
)
from PIL import Image
from test_caption_server import ChatServer

from crisisdesk.core.captions.base import CaptionRequest
from crisisdesk.core.captions.local import LocalCaptioner
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.captions.server import ServerCaptioner

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
#: How each tag's photo is stored: the upright picture turned the other way, so that the
#: viewer's turn (6: a quarter clockwise, 8: a quarter anticlockwise) brings it back.
STORED_AS = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def _upright() -> Image.Image:
    """What the camera saw, 40 wide and 60 high: red top left, green top right, blue
    bottom; a turn the wrong way or a mirror puts another colour in some corner."""
    image = Image.new("RGB", (40, 60), BLUE)
    image.paste(RED, (0, 0, 20, 30))
    image.paste(GREEN, (20, 0, 40, 30))
    return image


def _sideways_photo(path: Path, orientation: int) -> Path:
    stored = _upright().transpose(STORED_AS[orientation])
    assert stored.size == (60, 40)  # lying on its side, as the phone wrote it
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=95, exif=exif)
    return path


def _corners(image: Image.Image) -> list[tuple[int, ...]]:
    """The mean colour of the middle of each quarter (JPEG blurs the edges)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    height, width = pixels.shape[:2]
    out = []
    for top in (0, height // 2):
        for left in (0, width // 2):
            patch = pixels[top + height // 8: top + 3 * height // 8,
                           left + width // 8: left + 3 * width // 8]
            out.append(tuple(int(round(v)) for v in patch.reshape(-1, 3).mean(axis=0)))
    return out


def _assert_upright(seen: Image.Image) -> None:
    expected = _upright()
    assert seen.size[0] / seen.size[1] == pytest.approx(
        expected.size[0] / expected.size[1]), f"{seen.size}: the photo lies on its side"
    for got, want in zip(_corners(seen), _corners(expected), strict=True):
        assert max(abs(g - w) for g, w in zip(got, want, strict=True)) < 40, (
            f"corner colours {_corners(seen)}, upright {_corners(expected)}")


@pytest.mark.parametrize("orientation", [6, 8])
def test_the_local_captioner_gets_a_sideways_photo_upright(
        tiny_llava_fp32, tmp_path: Path, monkeypatch, orientation: int) -> None:  # noqa: F811
    model, processor = tiny_llava_fp32
    captioner = LocalCaptioner(model, processor, name="tiny", device="cpu",
                               max_new_tokens=4)
    encode = captioner.encode
    seen: list[Image.Image] = []

    def recording(texts, images):  # the images as the model's processor receives them
        seen.extend(images)
        return encode(texts, images)

    monkeypatch.setattr(captioner, "encode", recording)
    photo = _sideways_photo(tmp_path / "phone.jpg", orientation)
    (result,) = captioner.caption([CaptionRequest("k", photo, "Street flooded")],
                                  load_prompt())
    assert result.error is None and isinstance(result.caption, str)
    assert len(seen) == 1
    _assert_upright(seen[0])


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_caption_server_gets_a_sideways_photo_upright(tmp_path: Path,
                                                       orientation: int) -> None:
    photo = _sideways_photo(tmp_path / "phone.jpg", orientation)
    with ChatServer() as server:
        captioner = ServerCaptioner(server.url, "m", timeout=30, concurrency=1, retries=0)
        (result,) = captioner.caption([CaptionRequest("k", photo, "Street flooded")],
                                      load_prompt())
        sent = list(server.requests)
    assert result.error is None and result.caption
    (request,) = sent
    (url,) = [part["image_url"]["url"] for part in request["messages"][1]["content"]
              if part.get("type") == "image_url"]
    data = base64.b64decode(url.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        _assert_upright(image)
