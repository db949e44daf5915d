"""Analysts on Windows and macOS, simulated on Linux.

* A file open in Excel (or held a moment by a virus scanner) cannot be replaced on
  Windows: ``os.replace`` raises PermissionError (WinError 5 or 32). The analyst must be
  told which file, and to close it or pick another name; no temp file is left.
* A zip whose names collide but for letter case or Unicode form (``IMG_1.jpg`` and
  ``img_1.jpg``), or that Windows cannot hold (``CON.jpg``, ``a<b>.jpg``, ``x.jpg.``):
  on a case-insensitive file system (macOS, Windows) one image was unpacked over the
  other and a post showed another post's picture. Names written are now unique as those
  systems compare them, and each post keeps its own image.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from bad_input_helpers import media_of, run_import, write_csv
from PIL import Image

from crisisdesk.cli import main
from crisisdesk.core import files
from crisisdesk.core.files import atomic_write

# -- a file held open by another program (Windows) --------------------------------------


def _held(winerror: int) -> PermissionError:
    """The error Windows gives when a file is open in Excel (5) or held by a scanner (32)."""
    exc = PermissionError(13, "The process cannot access the file because it is being "
                          "used by another process")
    exc.winerror = winerror  # set by Windows itself; an attribute anywhere else
    return exc


@pytest.fixture
def held_for(monkeypatch):
    """``held_for(n, winerror)``: os.replace in files.py fails ``n`` times (None: always)
    as Windows does for a file another program holds; the number of tries is kept."""
    tries: list[int] = []
    real = os.replace
    # No waiting in tests: as many pauses as files.py makes, each of no time.
    pauses = getattr(files, "REPLACE_PAUSES", (0.0,))
    monkeypatch.setattr(files, "REPLACE_PAUSES", tuple(0.0 for _ in pauses), raising=False)

    def install(n: int | None, winerror: int = 32) -> list[int]:
        def replace(src, dst):
            tries.append(1)
            if n is None or len(tries) <= n:
                raise _held(winerror)
            return real(src, dst)
        monkeypatch.setattr(files.os, "replace", replace)
        return tries
    return install


def test_a_file_held_a_moment_by_a_scanner_is_replaced_after_a_retry(tmp_path, held_for):
    out = tmp_path / "labels.csv"
    out.write_text("old\n", encoding="utf-8")
    tries = held_for(2, winerror=32)
    with atomic_write(out) as handle:
        handle.write("new\n")
    assert out.read_text(encoding="utf-8") == "new\n"
    assert len(tries) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_a_file_open_in_excel_names_the_file_and_says_to_close_it(tmp_path, held_for):
    out = tmp_path / "José Núñez" / "labels.csv"
    out.parent.mkdir()
    out.write_text("old\n", encoding="utf-8")
    held_for(None, winerror=5)
    with pytest.raises(PermissionError) as caught, atomic_write(out) as handle:
        handle.write("new\n")
    message = str(caught.value)
    assert str(out) in message
    assert "close it" in message and "another name" in message
    assert out.read_text(encoding="utf-8") == "old\n"  # nothing lost
    assert [p.name for p in out.parent.iterdir()] == ["labels.csv"]  # no temp left


def test_a_posix_permission_error_is_not_retried(tmp_path, held_for):
    # A folder without write permission is no program holding the file: no wait.
    tries = held_for(None, winerror=0)
    out = tmp_path / "labels.csv"
    with pytest.raises(PermissionError), atomic_write(out) as handle:
        handle.write("x")
    assert len(tries) == 1


def test_cli_export_to_a_file_open_in_excel_says_so(proj, tmp_path, held_for, capsys):
    table = write_csv(tmp_path / "Mis datos" / "posts.csv", ["id", "text"], [["1", "a"]])
    run_import(proj, [table])
    out = tmp_path / "José Núñez" / "labels.csv"
    out.parent.mkdir()
    out.write_text("old\n", encoding="utf-8")
    held_for(None, winerror=32)
    assert main(["export", str(proj.root), str(out)]) != 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert str(out) in text and "close it" in text
    assert "Traceback" not in text
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in out.parent.iterdir()] == ["labels.csv"]


def test_cli_explain_to_a_png_open_in_a_viewer_says_so(proj, tmp_path, monkeypatch, capsys):
    # The explanation itself is faked: what is tested is the CLI's handling of the write.
    import crisisdesk.core.explain as explain
    import crisisdesk.core.explain.render as render

    result = SimpleNamespace(item="s:1:0", image=None, image_path=None, sensitive=False)
    monkeypatch.setattr(explain, "explain_item", lambda *a, **k: result)

    def held(*_a, **_k):
        raise files.FileInUse(tmp_path / "x.png")
    monkeypatch.setattr(render, "render_png", held)
    code = main(["explain", str(proj.root), "s:1:0", "--task", "damage",
                 "--out", str(tmp_path / "x.png")])
    assert code != 0
    captured = capsys.readouterr()
    assert "close it" in captured.out + captured.err


# -- names a case-insensitive or Windows file system cannot hold -------------------------


def _fold(name: str) -> str:
    """A name as macOS and Windows compare it (NFC, case folded, no trailing dots or
    spaces): the test's own, so that it does not trust the code under test."""
    return unicodedata.normalize("NFC", name).casefold().rstrip(". ")


WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])",
                              re.IGNORECASE)


def assert_every_name_safe(folder: Path) -> None:
    """Every file and folder under ``folder``: a name Windows can hold, and no two names
    in one folder equal as macOS and Windows compare them."""
    for here, dirs, names in os.walk(folder):
        everything = dirs + names
        folded = [_fold(n) for n in everything]
        assert len(set(folded)) == len(folded), f"names collide in {here}: {everything}"
        for name in everything:
            # CON, CON.jpg, "con .tar.gz": the part before the first dot names a device.
            assert not WINDOWS_RESERVED.fullmatch(name.split(".")[0].rstrip(" ")), name
            assert not re.search(r'[<>:"|?*\x00-\x1f]', name), name
            assert name == name.rstrip(". "), name


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, seed * 70 % 256, seed * 90 % 256)).save(
        buffer, "JPEG")
    return buffer.getvalue()


# Entry name -> post id: all distinct on Linux, many alike on macOS or Windows.
ODD_NAMES = {
    "IMG_1.jpg": "p1", "img_1.jpg": "p2", "Img_1.JPG": "p3",
    "Café.jpg": "p4", unicodedata.normalize("NFD", "Café.jpg"): "p5",
    "CON.jpg": "p6", "aux.png": "p7", "a<b>.jpg": "p8", 'say "hi".jpg': "p9",
    "dot.jpg.": "p10", "dot.jpg": "p11", "Photos/x.jpg": "p12", "photos/x.jpg": "p13",
    "lpt1": "p14",
    # Over 255 bytes (Linux, macOS) and alike in their first 150 letters.
    "é" * 150 + "1.jpg": "p15", "é" * 150 + "2.jpg": "p16",
}


def _odd_zip(path: Path) -> dict[str, bytes]:
    images: dict[str, bytes] = {}
    rows = []
    with zipfile.ZipFile(path, "w") as zf:
        for seed, (name, post) in enumerate(ODD_NAMES.items(), 1):
            images[post] = _jpeg(seed)
            zf.writestr(name, images[post])
            rows.append(f"{post},post {post},\"{name.replace(chr(34), chr(34) * 2)}\"\n")
        zf.writestr("posts.csv", "id,text,image\n" + "".join(rows))
    return images


def test_a_zip_of_names_alike_on_macos_and_windows_keeps_each_posts_image(proj, tmp_path):
    archive = tmp_path / "odd.zip"
    images = _odd_zip(archive)
    job = run_import(proj, [archive])
    assert_every_name_safe(proj.root / "media")
    with proj.open_store() as store:
        for post, data in images.items():
            (media,) = media_of(store, "odd", post)
            assert media["status"] == "ok", (post, media)
            assert media["sha256"] == hashlib.sha256(data).hexdigest(), post
            assert Path(media["path"]).read_bytes() == data, post
    # Each renamed entry is a warning naming both names; no errors.
    assert job.report.errors == 0, job.report.summary()
    renamed = [p for p in job.report.problems if "unpacked as" in p.message]
    assert any("img_1.jpg" in p.where.file for p in renamed)
    assert any("CON.jpg" in p.where.file for p in renamed)


def test_a_zip_of_sidecar_posts_alike_but_for_case_keeps_their_ids(proj, tmp_path):
    archive = tmp_path / "side.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for seed, stem in enumerate(("IMG_1", "img_1", "CON"), 1):
            zf.writestr(f"{stem}.jpg", _jpeg(seed))
            zf.writestr(f"{stem}.txt", f"text of {stem}")
    run_import(proj, [archive])
    assert_every_name_safe(proj.root / "media")
    with proj.open_store() as store:
        for seed, stem in enumerate(("IMG_1", "img_1", "CON"), 1):
            row = store.conn.execute("SELECT text FROM posts WHERE source = 'side' AND "
                                     "post_id = ?", [stem]).fetchone()
            assert row is not None and row[0] == f"text of {stem}", stem
            (media,) = media_of(store, "side", stem)
            assert media["sha256"] == hashlib.sha256(_jpeg(seed)).hexdigest(), stem


def test_the_same_archive_imported_again_adds_nothing(proj, tmp_path):
    archive = tmp_path / "odd.zip"
    _odd_zip(archive)
    run_import(proj, [archive])
    again = run_import(proj, [archive])
    assert again.report.posts_added == 0 and again.report.items_added == 0
    assert again.report.errors == 0, again.report.summary()


def test_files_left_by_an_older_unpacking_are_not_read_as_more_images(proj, tmp_path):
    # Unpacked on Linux before names were made safe, the folder holds img_1.jpg too; the
    # same archive imported again unpacks it as img_1~2.jpg: the old file is no second
    # image of the post.
    archive = tmp_path / "side.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for seed, stem in enumerate(("IMG_1", "img_1"), 1):
            zf.writestr(f"{stem}.jpg", _jpeg(seed))
            zf.writestr(f"{stem}.txt", f"text of {stem}")
    run_import(proj, [archive])
    folder = proj.root / "media" / "side"
    (renamed,) = [p for p in folder.glob("*.jpg") if p.name not in ("IMG_1.jpg",)]
    (folder / "img_1.jpg").write_bytes(renamed.read_bytes())
    (folder / "img_1.txt").write_text("text of img_1", "utf-8")
    again = run_import(proj, [archive])
    assert again.report.posts_added == 0 and again.report.items_added == 0, \
        again.report.summary()
    with proj.open_store() as store:
        assert len(media_of(store, "side", "img_1")) == 1
