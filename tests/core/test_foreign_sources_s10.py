"""Sources made on another operating system, as analysts exchange them: a sheet saved by
Excel on Windows (a European locale's ';', a ``sep=;`` line, "Unicode text"), a folder
of images named on macOS or Windows, a zip made by macOS's Finder. Each imports as its
maker meant, or is reported with what to do."""

from __future__ import annotations

import codecs
import unicodedata
import zipfile
from pathlib import Path

from bad_input_helpers import media_of, post_row, problems_for, run_import
from import_helpers import make_image

ROWS = [["id", "text", "damage"],
        ["1", "Huracán: casa destruida, techo caído", "severe_damage"],
        ["2", "Sin daños en la escuela", "little_or_no_damage"]]


def _table(sep: str) -> str:
    return "\r\n".join(sep.join(row) for row in ROWS) + "\r\n"


def _assert_two_posts(proj, source: str) -> None:
    store = proj.open_store()
    first = post_row(store, source, "1")
    assert first is not None and first["text"] == ROWS[1][1]
    assert post_row(store, source, "2") is not None
    labels = store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    assert labels == 2


def test_semicolon_csv_in_windows_1252_from_a_european_excel_imports(proj, tmp_path):
    sheet = tmp_path / "posts.csv"
    sheet.write_bytes(_table(";").encode("cp1252"))
    job = run_import(proj, [sheet])
    _assert_two_posts(proj, "posts")
    assert not [p for p in job.report.problems if p.severity == "error"]


def test_sep_line_after_a_utf8_bom_names_the_separator(proj, tmp_path):
    sheet = tmp_path / "posts.csv"
    sheet.write_bytes(codecs.BOM_UTF8 + ("sep=;\r\n" + _table(";")).encode("utf-8"))
    job = run_import(proj, [sheet])
    _assert_two_posts(proj, "posts")
    assert not [p for p in job.report.problems if p.severity == "error"]


def test_excel_unicode_text_utf16_tab_separated_imports_as_csv(proj, tmp_path):
    sheet = tmp_path / "posts.txt"  # Excel's "Unicode Text" is saved as .txt
    sheet.write_bytes(codecs.BOM_UTF16_LE + _table("\t").encode("utf-16-le"))
    job = run_import(proj, [sheet], format="csv")
    _assert_two_posts(proj, "posts")
    assert not [p for p in job.report.problems if p.severity == "error"]


def test_zip_from_macos_finder_reads_its_manifest_past_macosx_entries(proj, tmp_path):
    image = make_image(tmp_path / "a.jpg")
    archive = tmp_path / "crisis.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("crisis/posts.csv", "id,text,image\n1,hello,img/a.jpg\n2,bye,\n")
        zf.write(image, "crisis/img/a.jpg")
        zf.writestr("__MACOSX/crisis/._posts.csv", b"\x00\x05\x16\x07 AppleDouble")
        zf.writestr("__MACOSX/crisis/img/._a.jpg", b"\x00\x05\x16\x07 AppleDouble")
    run_import(proj, [archive])
    store = proj.open_store()
    assert post_row(store, "crisis", "1")["text"] == "hello"
    assert post_row(store, "crisis", "2")["text"] == "bye"
    assert [m["status"] for m in media_of(store, "crisis", "1")] == ["ok"]
    assert not list((proj.folder("media")).rglob("__MACOSX"))


def _sheet_naming(tmp_path: Path, name: str) -> Path:
    sheet = tmp_path / "posts.csv"
    sheet.write_text(f"id,text,image\n1,hello,img/{name}\n", "utf-8")
    return sheet


def test_image_named_in_another_letter_case_is_found_and_said(proj, tmp_path):
    make_image(tmp_path / "img" / "photo.jpg")
    sheet = _sheet_naming(tmp_path, "Photo.JPG")
    job = run_import(proj, [sheet])
    media = media_of(proj.open_store(), "posts", "1")
    assert [m["status"] for m in media] == ["ok"]
    assert media[0]["path"] == str(tmp_path / "img" / "photo.jpg")
    notes = [str(p) for p in problems_for(job, sheet)]
    assert any("row 2" in n and "img/photo.jpg" in n and "letter case" in n for n in notes)


def test_image_named_in_nfc_found_in_nfd_on_disk_and_the_reverse(proj, tmp_path):
    nfc, nfd = "café.jpg", unicodedata.normalize("NFD", "café.jpg")
    make_image(tmp_path / "img" / nfd, 1)
    make_image(tmp_path / "other" / nfc, 2)
    sheet = tmp_path / "posts.csv"
    sheet.write_text(f"id,text,image\n1,a,img/{nfc}\n2,b,other/{nfd}\n", "utf-8")
    run_import(proj, [sheet])
    store = proj.open_store()
    assert [m["status"] for m in media_of(store, "posts", "1")] == ["ok"]
    assert [m["status"] for m in media_of(store, "posts", "2")] == ["ok"]


def test_trailing_dot_that_windows_drops_still_finds_the_file(proj, tmp_path):
    make_image(tmp_path / "img" / "photo.jpg")
    sheet = _sheet_naming(tmp_path, "photo.jpg.")
    run_import(proj, [sheet])
    assert [m["status"] for m in media_of(proj.open_store(), "posts", "1")] == ["ok"]


def test_two_files_differing_only_in_case_are_not_guessed_between(proj, tmp_path):
    make_image(tmp_path / "img" / "dup.jpg", 1)
    make_image(tmp_path / "img" / "DUP.jpg", 2)
    sheet = _sheet_naming(tmp_path, "Dup.jpg")
    job = run_import(proj, [sheet])
    media = media_of(proj.open_store(), "posts", "1")
    assert [m["status"] for m in media] == ["missing"]
    lines = [str(p) for p in problems_for(job, sheet)]
    assert any("row 2" in n and "DUP.jpg" in n and "dup.jpg" in n for n in lines)


def windows_sheet(sheet: Path) -> Path:
    """A sheet made on Windows: its one row names its image by a path on the maker's
    drive (C:\\Users\\ana\\crisis\\img\\1.jpg)."""
    sheet.write_text("id,text,image\n1,hello,C:\\Users\\ana\\crisis\\img\\1.jpg\n", "utf-8")
    return sheet


def found_by_its_tail(proj, sheet: Path, image: Path, said: str, **options) -> None:
    """Import ``sheet`` (a :func:`windows_sheet`): its image is ``image`` on this machine,
    found by the path's last parts, and row 2's warning says ``said``."""
    job = run_import(proj, [sheet], **options)
    media = media_of(proj.open_store(), "posts", "1")
    assert [m["status"] for m in media] == ["ok"]
    assert media[0]["path"] == str(image)
    assert any("row 2" in str(p) and said in str(p) for p in problems_for(job, sheet))


def test_windows_drive_path_found_by_its_tail_under_images_root(proj, tmp_path):
    root = tmp_path / "root"
    make_image(root / "img" / "1.jpg")
    (tmp_path / "sheets").mkdir()
    sheet = windows_sheet(tmp_path / "sheets" / "posts.csv")
    found_by_its_tail(proj, sheet, root / "img" / "1.jpg", "img/1.jpg", images_root=root)


def test_windows_drive_path_with_no_file_under_the_root_says_what_to_do(proj, tmp_path):
    sheet = windows_sheet(tmp_path / "posts.csv")
    job = run_import(proj, [sheet])
    lines = [str(p) for p in problems_for(job, sheet)]
    assert any("row 2" in n and "--images-root" in n for n in lines), lines
    assert post_row(proj.open_store(), "posts", "1") is not None
