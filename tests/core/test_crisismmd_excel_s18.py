"""A CrisisMMD split file that went through Excel: opened there (its tweet ids read as
numbers) and saved back, as "Unicode Text" (UTF-16 with a byte order mark, CRLF line
ends, a ``.txt`` name) or as a tab-separated file. Its posts must be the ones the file
gave before Excel touched it: same tweets, same items, same labels."""

from __future__ import annotations

import codecs
from pathlib import Path

from import_helpers import CMMD_SHORT, cmmd_image, items, run_import

from crisisdesk.core.importers import detect_format
from crisisdesk.core.project import Project

# Two tweets whose ids agree in their first six digits: Excel writes both as 9.05631E+17.
# Tweet 905400000000000000 shows another tweet's image (CrisisMMD has such pairs).
ROWS = [
    ["hurricane_irma", "905631198843691009", "905631198843691009_0", "Roof gone on Elm St",
     cmmd_image("905631198843691009_0"), "severe_damage"],
    ["hurricane_irma", "905631234567890123", "905631234567890123_1", "Water in the lobby",
     cmmd_image("905631234567890123_1"), "mild_damage"],
    ["hurricane_irma", "905400000000000001", "901671684478029825_0", "Same photo again",
     cmmd_image("901671684478029825_0"), "little_or_no_damage"],
]


def _excel_id(tweet_id: str) -> str:
    """How Excel writes an 18-digit id it read as a number, in its General format."""
    return f"{int(tweet_id):.5E}"


def _unicode_text(path: Path, rows: list[list[str]]) -> Path:
    """The rows as Excel's "Unicode Text" save: UTF-16 LE with a BOM, CRLF, tabs."""
    lines = ["\t".join(CMMD_SHORT), *("\t".join(row) for row in rows)]
    path.write_bytes(codecs.BOM_UTF16_LE + ("\r\n".join(lines) + "\r\n").encode("utf-16-le"))
    return path


def _through_excel(rows: list[list[str]]) -> list[list[str]]:
    return [[row[0], _excel_id(row[1]), *row[2:]] for row in rows]


def _labels(project: Project) -> dict[str, str]:
    with project.open_store() as store:
        return {r["image_id"]: r["label"] for r in store.conn.execute(
            "SELECT i.external_id AS image_id, c.label FROM current_labels c"
            " JOIN items i ON i.id = c.item WHERE c.task = 'damage'")}


def test_a_split_file_saved_by_excel_keeps_each_tweet_apart(tmp_path: Path) -> None:
    # Excel wrote 9.05631E+17 for both tweets: imported as written, they became one
    # post "9.05631E+17" whose items and labels were a mix of the two tweets'.
    sheet = _unicode_text(tmp_path / "task_damage_text_img_dev.tsv", _through_excel(ROWS))
    project = Project.open(tmp_path / "proj", create=True)
    job = run_import(project, [sheet])
    with project.open_store() as store:
        assert [len(items(store, "crisismmd", row[1])) for row in ROWS[:2]] == [1, 1]
        posts = {r[0] for r in store.conn.execute("SELECT post_id FROM posts")}
    # The third row's tweet cannot be read back (its image is another tweet's).
    assert posts == {ROWS[0][1], ROWS[1][1]}
    assert _labels(project) == {row[2]: row[5] for row in ROWS[:2]}
    warnings = [p for p in job.report.problems if p.severity == "warning"]
    assert any(p.where.row == 2 and sheet.name in p.where.file and ROWS[0][1] in p.message
               for p in warnings), warnings


def test_an_id_excel_rounded_that_is_no_images_tweet_is_refused(tmp_path: Path) -> None:
    # Tweet 905400000000000001 shows tweet 901671684478029825's image: its id, lost to
    # Excel, cannot be read back from the image id; a post "9.05400E+17" is no tweet.
    sheet = _unicode_text(tmp_path / "task_damage_text_img_dev.tsv",
                          _through_excel(ROWS[2:]))
    project = Project.open(tmp_path / "proj", create=True)
    job = run_import(project, [sheet])
    errors = [p for p in job.report.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].where.row == 2, job.report.problems
    assert "9.05400E+17" in errors[0].message
    assert _labels(project) == {}


def test_excel_unicode_text_name_of_a_split_file_is_still_a_split_file(
        tmp_path: Path) -> None:
    # Excel's "Unicode Text" saves task_damage_text_img_dev.tsv as ..._dev.txt: the
    # format was not told from the name, and --format crisismmd refused the name.
    sheet = _unicode_text(tmp_path / "task_damage_text_img_dev.txt", ROWS)
    assert detect_format(sheet) == "crisismmd"
    for fmt in ("auto", "crisismmd"):
        project = Project.open(tmp_path / fmt, create=True)
        job = run_import(project, [sheet], format=fmt)
        assert job.report.errors == 0, job.report.problems
        assert _labels(project) == {row[2]: row[5] for row in ROWS}
        with project.open_store() as store:
            splits = {r[0] for r in store.conn.execute("SELECT split FROM splits")}
        assert splits == {"dev"}


def test_a_folder_of_split_files_saved_as_unicode_text_imports_them(tmp_path: Path) -> None:
    folder = tmp_path / "settingA"
    folder.mkdir()
    _unicode_text(folder / "task_damage_text_img_dev.txt", ROWS)
    assert detect_format(folder) == "crisismmd"
    project = Project.open(tmp_path / "proj", create=True)
    job = run_import(project, [folder])
    assert job.report.errors == 0, job.report.problems
    assert _labels(project) == {row[2]: row[5] for row in ROWS}
