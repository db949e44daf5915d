"""Only the image formats posts carry are read: Pillow knows many more, and some of its
readers are risky on files from strangers (EPS runs Ghostscript)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import EpsImagePlugin, Image

from crisisdesk.core.imaging import IMAGE_FORMATS, inspect_image

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
       b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n")


def test_an_eps_file_is_refused_without_running_ghostscript(tmp_path: Path,
                                                            monkeypatch) -> None:
    ran: list[object] = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs", raising=False)
    path = tmp_path / "flyer.jpg"  # a name that says image: what a file says is not trusted
    path.write_bytes(EPS)
    with Image.open(path) as plain:  # what Pillow alone makes of it
        assert plain.format == "EPS"
    facts = inspect_image(path)
    assert facts.status == "unreadable" and "not an image crisisdesk reads" in facts.reason
    assert ran == []


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "ICO"])
def test_formats_posts_do_not_carry_are_refused(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path, format=fmt)
    assert inspect_image(path).status == "unreadable"


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_the_formats_posts_carry_are_read(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path, format=fmt)
    assert inspect_image(path).status == "ok"
