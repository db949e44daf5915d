"""Two leftovers of CrisisMMD files that went through Excel, found with the real splits:
a folder holding a split's ``.tsv`` and the ``.txt`` copy Excel's "Unicode Text" save
made of it was read twice (every row counted twice, each "already in the project" line
doubled), and a sheet with CrisisMMD's columns saved as CSV by Excel (tweet ids written
``9.19946E+17``) skipped every row, though the ``image_id`` cell keeps the id."""

from __future__ import annotations

from pathlib import Path

from import_helpers import (
    CMMD_SHORT,
    cmmd_image,
    journal_rows,
    make_image,
    run_import,
    write_csv,
)
from test_crisismmd_excel_s18 import ROWS as EXCEL_ROWS
from test_crisismmd_excel_s18 import _excel_id, _labels, _through_excel, _unicode_text

from crisisdesk.core.project import Project

# Two tweets Excel writes alike (9.05631E+17) and a third; each row's image is its own.
ROWS = [*EXCEL_ROWS[:2],
        ["hurricane_irma", "919946322177802241", "919946322177802241_0", "Smoke over the hill",
         cmmd_image("919946322177802241_0"), "little_or_no_damage"]]
SPLIT = "task_damage_text_img_dev"


def _tsv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join("\t".join(r) for r in [CMMD_SHORT, *rows]) + "\n", "utf-8")
    return path


# ------------------------------------------------- 1. a split and Excel's copy of it


def _folder_with_copy(tmp_path: Path, copy_rows: list[list[str]]) -> Path:
    folder = tmp_path / "settingA"
    folder.mkdir()
    _tsv(folder / f"{SPLIT}.tsv", ROWS)
    _unicode_text(folder / f"{SPLIT}.txt", copy_rows)
    return folder


def test_a_split_and_its_excel_copy_in_one_folder_are_read_once(tmp_path: Path) -> None:
    folder = _folder_with_copy(tmp_path, _through_excel(ROWS))
    project = Project.open(tmp_path / "proj", create=True)
    first = run_import(project, [folder]).report
    assert (first.records, first.posts_added, first.items_added) == (3, 3, 3)
    assert _labels(project) == {row[2]: row[5] for row in ROWS}
    # The copy is said, naming both files, and said to hold the same rows.
    said = [p for p in first.problems if f"{SPLIT}.txt" in p.message + p.where.file]
    assert len(said) == 1 and said[0].severity == "warning", first.problems
    assert f"{SPLIT}.tsv" in said[0].message + said[0].where.file
    assert "same rows" in said[0].message
    again = run_import(project, [folder]).report
    assert "3 rows already in the project" in again.summary().splitlines()[0]
    assert again.records == 3


def test_a_copy_whose_labels_differ_is_not_read_and_says_so(tmp_path: Path) -> None:
    # An analyst changed a label in Excel: reading both filed two labels on one item in
    # one import, the copy's silently replacing the split's. One is read; the other is
    # named, with how many of its rows differ and how to take its labels.
    edited = [[*row[:5], "severe_damage"] for row in ROWS]
    folder = _folder_with_copy(tmp_path, edited)
    project = Project.open(tmp_path / "proj", create=True)
    report = run_import(project, [folder]).report
    assert _labels(project) == {row[2]: row[5] for row in ROWS}
    with project.open_store() as store:
        assert journal_rows(store) == len(ROWS)
    said = [p for p in report.problems if f"{SPLIT}.txt" in p.message + p.where.file]
    assert len(said) == 1 and "2 rows" in said[0].message, report.problems
    assert f"{SPLIT}.tsv" in said[0].message + said[0].where.file


def test_a_copy_alone_or_another_split_s_copy_is_still_read(tmp_path: Path) -> None:
    folder = tmp_path / "settingA"
    folder.mkdir()
    _tsv(folder / f"{SPLIT}.tsv", ROWS[:1])
    # The train split exists only as Excel's copy: it is that split's only file.
    _unicode_text(folder / "task_damage_text_img_train.txt", _through_excel(ROWS[1:]))
    project = Project.open(tmp_path / "proj", create=True)
    report = run_import(project, [folder]).report
    assert report.errors == 0 and report.records == 3, report.problems
    assert _labels(project) == {row[2]: row[5] for row in ROWS}
    assert not any("copy" in p.message for p in report.problems), report.problems


# ------------------------------------------- 2. CrisisMMD's columns as CSV via Excel


def test_a_crisismmd_sheet_saved_as_csv_by_excel_reads_ids_from_image_id(
        tmp_path: Path) -> None:
    # Excel wrote 9.05631E+17 for the first two tweets: each row was refused, though its
    # image_id cell (text to Excel) keeps the id, as the .tsv and .txt imports read it.
    sheet = write_csv(tmp_path / "damage_dev.csv", CMMD_SHORT, _through_excel(ROWS))
    for seed, row in enumerate(ROWS):
        make_image(tmp_path / row[4], seed)
    project = Project.open(tmp_path / "proj", create=True)
    report = run_import(project, [sheet], mapping={"label_damage": "label"}).report
    assert report.errors == 0, report.problems
    with project.open_store() as store:
        posts = {r[0] for r in store.conn.execute("SELECT post_id FROM posts")}
    assert posts == {row[1] for row in ROWS}
    assert _labels(project) == {row[2]: row[5] for row in ROWS}
    warnings = [p for p in report.problems if p.severity == "warning"]
    for number, row in enumerate(ROWS, start=2):
        assert any(p.where.row == number and _excel_id(row[1]) in p.message
                   and row[1] in p.message for p in warnings), warnings


def test_an_excel_id_the_image_id_does_not_give_back_is_still_refused(
        tmp_path: Path) -> None:
    # A tweet showing another tweet's image: its own id is lost to Excel for good.
    row = ["hurricane_irma", _excel_id("905400000000000001"), "901671684478029825_0",
           "Same photo again", cmmd_image("901671684478029825_0"), "mild_damage"]
    sheet = write_csv(tmp_path / "damage_dev.csv", CMMD_SHORT, [row])
    project = Project.open(tmp_path / "proj", create=True)
    report = run_import(project, [sheet], mapping={"label_damage": "label"}).report
    errors = [p for p in report.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].where.row == 2, report.problems
    assert "9.05400E+17" in errors[0].message
    assert _labels(project) == {}
