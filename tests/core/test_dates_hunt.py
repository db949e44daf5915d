"""Dates and encodings as they come in messy crisis data: a post time out of the range a
computer clock holds, and a file of UTF-8 rows with a few rows pasted from Windows."""

from __future__ import annotations

from pathlib import Path

from import_helpers import post_row, run_import, write_csv, write_jsonl

from crisisdesk.core.importers.textio import decode_text
from crisisdesk.core.project import Project


def test_a_post_time_past_the_clocks_range_is_kept_with_a_warning(proj: Project,
                                                                   tmp_path: Path) -> None:
    # A client-set time (Bluesky's createdAt, a .NET MinValue with the local offset)
    # that lies before year 1 in UTC: it used to stop the whole import with a traceback.
    source = write_csv(tmp_path / "posts.csv", ["id", "text", "created_at"], [
        ["1", "before", "2017-09-01T11:00:00Z"],
        ["2", "zero time", "0001-01-01T00:00:00+01:00"],
        ["3", "after", "Fri Sep 01 12:00:00 +0000 2017"],
    ])
    job = run_import(proj, [source])
    assert job.report.posts_added == 3
    with proj.open_store() as store:
        assert post_row(store, "posts", "1")["created_at"] == "2017-09-01T11:00:00.000Z"
        assert post_row(store, "posts", "2")["created_at"] == "0001-01-01T00:00:00+01:00"
        assert post_row(store, "posts", "3")["created_at"] == "2017-09-01T12:00:00.000Z"
    (warning,) = [p for p in job.report.problems if "created_at" in p.message]
    assert warning.severity == "warning"
    assert warning.where.file == str(source) and warning.where.row == 3


def test_a_label_time_past_the_clocks_range_keeps_the_post(proj: Project,
                                                           tmp_path: Path) -> None:
    # An edited export whose labelled_at lies out of range: the post and its label are
    # imported (with the import's time), as for any labelled_at that does not read.
    source = write_jsonl(tmp_path / "export.jsonl", [
        {"id": "1", "text": "bridge down", "tasks": {"damage": {
            "label": "severe_damage", "label_source": "human", "annotator": "alice",
            "labelled_at": "9999-12-31T23:59:59-01:00"}}},
    ])
    job = run_import(proj, [source])
    assert job.report.posts_added == 1 and job.report.labels_added == 1
    with proj.open_store() as store:
        (row,) = store.conn.execute("SELECT label, annotator, created_at FROM labels")
        assert (row["label"], row["annotator"]) == ("severe_damage", "alice")
        assert row["created_at"].startswith("20")  # the import's time
    (warning,) = [p for p in job.report.problems if "labelled_at" in p.message]
    assert warning.severity == "warning" and warning.where.row == 1


def test_utf8_rows_stay_right_beside_rows_in_windows_1252(proj: Project,
                                                         tmp_path: Path) -> None:
    # Two exports pasted into one file: UTF-8 rows (Arabic, emoji) and a row from a
    # Windows spreadsheet. Reading the whole file as Windows-1252 turned every UTF-8 row
    # into mojibake while the warning named only the Windows row.
    table = tmp_path / "merged.csv"
    table.write_bytes("id,text\n1,فيضانات في المدينة\n2,Inondation à Nîmes 🌊\n".encode()
                      + "3,Café inondé à Arlès\n".encode("cp1252")
                      + "4,Überschwemmung in Köln\n".encode())
    job = run_import(proj, [table])
    assert job.report.posts_added == 4
    with proj.open_store() as store:
        texts = {n: post_row(store, "merged", n)["text"] for n in "1234"}
    assert texts == {"1": "فيضانات في المدينة", "2": "Inondation à Nîmes 🌊",
                     "3": "Café inondé à Arlès", "4": "Überschwemmung in Köln"}
    (warning,) = [p for p in job.report.problems if "UTF-8" in p.message]
    assert warning.where.file == str(table) and warning.severity == "warning"
    assert "line 4" in warning.message and "line 2" not in warning.message


def test_decoding_keeps_each_lines_own_encoding_and_a_bom() -> None:
    data = ("\ufeffa\r\n" + "é\n").encode() + b"\x81\xe9\n" + "ok\n".encode("cp1252")
    text, warning = decode_text(data)
    # 0x81 is undefined in Windows-1252: that line is read as Latin-1.
    assert text == "a\r\né\n\x81é\nok\n"
    assert warning is not None and "line 3" in warning and "Latin-1" in warning


def test_an_excel_utf8_csv_with_one_windows_row_is_not_refused(proj: Project,
                                                               tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts with a byte order mark; read whole as Windows-1252 it
    # became part of the first column's name and the file was refused for "no 'id'".
    table = tmp_path / "excel.csv"
    table.write_bytes(b"\xef\xbb\xbfid,text\n1,caf\xc3\xa9\n2,caf\xe9\n")
    job = run_import(proj, [table])
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert [post_row(store, "excel", n)["text"] for n in "12"] == ["café", "café"]
    (warning,) = job.report.problems
    assert warning.severity == "warning"
    assert "byte 0xe9 on line 3" in warning.message


def test_the_header_again_in_joined_exports_is_no_post(proj: Project,
                                                       tmp_path: Path) -> None:
    # Two exports joined with `cat`: the second header line was imported as a post
    # with id "id" and text "text", without a word.
    table = tmp_path / "joined.csv"
    table.write_text("id,text\n1,one\n\ufeffid,text\n2,two\n", "utf-8")
    job = run_import(proj, [table])
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        ids = [r[0] for r in store.conn.execute("SELECT post_id FROM posts ORDER BY id")]
    assert ids == ["1", "2"]
    (warning,) = job.report.problems
    assert warning.severity == "warning" and warning.where.row == 3
    assert "header" in warning.message
