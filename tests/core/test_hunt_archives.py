"""Archives zip tools really write that Python cannot unpack (password-protected
entries, Deflate64, damaged compressed data, names marked UTF-8 that are not, a newer
zip version) and a zip inside the archive: each is a report line, the rest imports."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from bad_input_helpers import (
    assert_good_post,
    make_image,
    post_row,
    problems_for,
    run_import,
    write_csv,
)

from crisisdesk.core.importers.archive import ARCHIVE_MARKER

LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def patch_headers(archive: Path, name: str, *, flag: int = 0, method: int | None = None,
                  version: int | None = None, new_name: bytes | None = None) -> None:
    """Rewrite the local and central headers of entry ``name`` as other zip tools write
    them: general-purpose ``flag`` bits added, the compression ``method``, the
    ``version`` needed to extract, the name's raw bytes (same length)."""
    data = bytearray(archive.read_bytes())
    raw = name.encode("ascii")
    assert new_name is None or len(new_name) == len(raw)
    # Offsets of the fields in each header: (flags, method, version needed).
    for sig, (flags_at, method_at, version_at) in ((LOCAL, (6, 8, 4)),
                                                   (CENTRAL, (8, 10, 6))):
        name_at = 30 if sig == LOCAL else 46
        start = 0
        while (at := data.find(sig, start)) >= 0:
            start = at + 4
            if data[at + name_at:at + name_at + len(raw)] != raw:
                continue
            flags = struct.unpack_from("<H", data, at + flags_at)[0]
            struct.pack_into("<H", data, at + flags_at, flags | flag)
            if method is not None:
                struct.pack_into("<H", data, at + method_at, method)
            if version is not None:
                struct.pack_into("<H", data, at + version_at, version)
            if new_name is not None:
                data[at + name_at:at + name_at + len(raw)] = new_name
    archive.write_bytes(bytes(data))


def good_entries(zf: zipfile.ZipFile, tmp_path: Path) -> None:
    zf.write(make_image(tmp_path / "zipped_good.jpg", 4), "good.jpg")
    zf.writestr("good.txt", "A good post from the archive")


def test_entries_python_cannot_unpack_are_skipped_and_the_rest_imports(proj, tmp_path):
    # A password-protected entry, a Deflate64 one (Windows writes it for large files)
    # and one whose compressed bytes are damaged each used to stop the whole import
    # with a RuntimeError, NotImplementedError or zlib.error.
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        good_entries(zf, tmp_path)
        for name in ("locked.txt", "deflate64.txt", "damaged.txt"):
            zf.writestr(name, f"text of {name} " * 50)
        damaged = zf.getinfo("damaged.txt")
    data = bytearray(archive.read_bytes())
    # The first byte of deflate data: block type 3, which does not exist.
    data[damaged.header_offset + 30 + len("damaged.txt")] = 0xFF
    archive.write_bytes(bytes(data))
    patch_headers(archive, "locked.txt", flag=0x1)
    patch_headers(archive, "deflate64.txt", method=9)
    other = write_csv(tmp_path / "fine.csv", ["id", "text"], [["1", "hello"]])

    job = run_import(proj, [archive, other])
    expected = {"locked.txt": "encrypted", "deflate64.txt": "compression method",
                "damaged.txt": "cannot extract"}
    dest = proj.root / "media" / "mixed"
    for name, words in expected.items():
        (problem,) = problems_for(job, f"{archive}!{name}")
        assert words in problem.message and "skipped" in problem.message, problem
        assert not (dest / name).exists()
    assert not list(dest.glob("*.part"))
    with proj.open_store() as store:
        assert_good_post(store, "mixed")
        assert post_row(store, "fine", "1")["text"] == "hello"


@pytest.mark.parametrize(("patch", "words"), [
    ({"flag": 0x800, "new_name": b"\xff\xfe\xfd.txt"}, "not valid UTF-8"),
    ({"version": 64}, "zip file version 6.4"),
])
def test_an_archive_python_cannot_list_is_refused_and_other_sources_import(
        proj, tmp_path, patch, words):
    # An entry name marked UTF-8 that is not (UnicodeDecodeError) and an archive of a
    # newer zip version (NotImplementedError) used to stop the whole import.
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        good_entries(zf, tmp_path)
        zf.writestr("odd.txt", "an entry zip tools wrote their own way")
    patch_headers(archive, "odd.txt", **patch)
    other = write_csv(tmp_path / "fine.csv", ["id", "text"], [["1", "hello"]])
    job = run_import(proj, [archive, other])
    (problem, *_) = problems_for(job, archive)
    assert "not a readable zip archive" in problem.message and words in problem.message
    assert job.report.unusable_sources == 1
    with proj.open_store() as store:
        assert post_row(store, "fine", "1")["text"] == "hello"


def test_a_zip_inside_the_archive_is_named_in_the_report(proj, tmp_path):
    # The posts of a zip inside the archive are not imported: this used to say nothing
    # at all ("0 new posts, 0 errors, 0 warnings").
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("posts.csv", "id,text\n9,inside\n")
    archive = tmp_path / "outer.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        good_entries(zf, tmp_path)
        zf.write(inner, "more/inner.zip")
    job = run_import(proj, [archive])
    (problem,) = problems_for(job, f"{archive}!more/inner.zip")
    assert problem.severity == "warning"
    unpacked = proj.root / "media" / "outer" / "more" / "inner.zip"
    assert "not imported" in problem.message and str(unpacked) in problem.message
    assert unpacked.read_bytes() == inner.read_bytes()
    with proj.open_store() as store:
        assert_good_post(store, "outer")


def test_two_archives_of_one_name_unpack_apart_and_both_import(proj, tmp_path):
    # Each unpacked into media/<source>/ and the import read everything there: the
    # second archive's posts were read from the first's manifest ("0 new posts").
    # Named "fetched" too: the folder media fetching stores its files in.
    first, second = tmp_path / "a" / "fetched.zip", tmp_path / "b" / "fetched.zip"
    first.parent.mkdir()
    second.parent.mkdir()
    table = write_csv(tmp_path / "posts.csv", ["id", "text"], [["t1", "From the table"]])
    with zipfile.ZipFile(first, "w") as zf:
        zf.write(table, "posts.csv")
    with zipfile.ZipFile(second, "w") as zf:
        good_entries(zf, tmp_path)
    run_import(proj, [first])
    fetched = proj.root / "media" / "fetched" / "ab" / "ab00.jpg"  # then a fetched photo
    fetched.parent.mkdir(parents=True, exist_ok=True)
    make_image(fetched, 9)
    run_import(proj, [second])  # the same source name, "fetched"
    with proj.open_store() as store:
        assert post_row(store, "fetched", "t1") is not None
        assert_good_post(store, "fetched")
        assert post_row(store, "fetched", "ab00") is None  # no fetched file read as a post
    unpacked = {p.name for p in (proj.root / "media").rglob("*") if p.is_file()}
    assert {"posts.csv", "good.jpg", "good.txt"} <= unpacked
    assert sorted(p.name for p in (proj.root / "media" / "fetched").iterdir()) == ["ab"]


def test_an_archive_unpacked_before_markers_is_not_unpacked_twice(proj, tmp_path):
    # Projects imported before archives were marked: the same archive imported again
    # takes its old folder (every entry there at its size), not a second full copy.
    archive = tmp_path / "field.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        good_entries(zf, tmp_path)
    run_import(proj, [archive])
    (proj.root / "media" / "field" / ARCHIVE_MARKER).unlink()  # as an older release left it
    run_import(proj, [archive])
    assert sorted(p.name for p in (proj.root / "media").iterdir()) == ["field"]


def test_an_archive_that_cannot_be_read_is_reported_and_the_rest_imports(
        proj, tmp_path, monkeypatch):
    archive, table = tmp_path / "locked.zip", tmp_path / "good.csv"
    with zipfile.ZipFile(archive, "w") as zf:
        good_entries(zf, tmp_path)
    write_csv(table, ["id", "text"], [["good", "A good post"]])
    real_open = zipfile.ZipFile.__init__

    def denied(self, file, *args, **kwargs):
        if Path(file) == archive:  # as an unreadable file (tests run as root)
            raise PermissionError(13, "Permission denied", str(file))
        real_open(self, file, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", denied)
    job = run_import(proj, [archive, table])
    assert any("not a readable zip archive" in p.message for p in problems_for(job, archive))
    with proj.open_store() as store:
        assert post_row(store, "good", "good") is not None
