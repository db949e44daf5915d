"""The image side of an import at scale: what a decompression bomb says (session 13).

Measured over a folder of 2,011 posts (/tmp/h25 scratch): a 12000 x 9000 PNG said
"image too large to decode: 12000x9000 = 108 megapixels (the limit is 100)", but a
20000 x 20000 one said Pillow's own words, "Image size (400000000 pixels) exceeds limit of
178956970 pixels, could be decompression bomb DOS attack": a limit the analyst never set
and cannot find in crisisdesk's settings.
"""

from __future__ import annotations

from pathlib import Path

from bad_input_helpers import crafted_png

from crisisdesk.core.imaging import ImageLimits, inspect_image


def test_a_picture_past_pillows_own_limit_names_the_imports_limit(tmp_path: Path) -> None:
    limits = ImageLimits()
    over_ours = tmp_path / "over_ours.png"
    over_ours.write_bytes(crafted_png(12_000, 9_000))
    over_pillows = tmp_path / "over_pillows.png"
    over_pillows.write_bytes(crafted_png(20_000, 20_000))
    ours, pillows = inspect_image(over_ours, limits), inspect_image(over_pillows, limits)
    assert ours.status == pillows.status == "unreadable"
    limit = f"(the limit is {limits.max_pixels / 1e6:.0f})"
    assert limit in ours.reason and limit in pillows.reason
    assert "400 megapixels" in pillows.reason  # 20000 x 20000, as the other one counts
    assert "178956970" not in pillows.reason and "DOS attack" not in pillows.reason
    assert pillows.sha256 is not None  # the file is still known by its bytes


def test_a_jpeg_cut_short_says_truncated_or_corrupt(tmp_path: Path) -> None:
    """A JPEG header followed by noise (a download cut off, a file half overwritten) said
    only Pillow's "Truncated File Read"."""
    import random

    path = tmp_path / "cut.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(0).randbytes(3000))
    facts = inspect_image(path)
    assert facts.status == "unreadable"
    assert facts.reason.startswith("truncated or corrupt image data")
