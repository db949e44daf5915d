"""Checks that a deliberately broken importer or exporter makes a test fail (mutation
audit, session 15). Each test pins one behaviour that no earlier test caught when the
code was broken on purpose in a scratch copy (the audit's table is in the session
report):

* hashed authors use a salt of the project's own: the same handle hashes apart in two
  projects (one salt for all would let anyone with crisisdesk hash a list of handles
  and look the pseudonyms up, and link one person across shared exports), and alike in
  one project, reopened;
* a UTF-16 file with a big-endian byte order mark (as some Mac and Java tools write
  "Unicode text") is read as UTF-16, not as Windows-1252 with a warning;
* an image path that climbs into a sibling folder whose name starts with the source
  folder's (``../posts-private/``) is refused like any path leaving the source;
* a CrisisMMD file naming one image twice with two labels says so, and keeps the first;
* crisisdesk's own CrisisMMD export (no split in its file name, a ``split`` column)
  imports back with its splits: the frozen holdout survives the round trip;
* a sheet's validation split, however it is written (``val``, ``valid``,
  ``validation``), lands in dev, never in the test split (the holdout); a split of
  another name is said, with its file and row, not dropped without a word;
* a re-import gives an item the source's label once the analyst has undone their own
  label of it (nobody's decision stands there), while a label the analyst set stays.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from import_helpers import (
    CMMD_SHORT,
    cmmd_image,
    items,
    label_of,
    make_image,
    post_row,
    run_import,
    split_of,
    write_csv,
)

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _hashed_authors(tmp_path: Path, name: str) -> dict[str, str]:
    """Post id -> author of a hashed export of a project of its own named ``name``."""
    project = Project.open(tmp_path / name, create=True)
    sheet = write_csv(tmp_path / f"{name}.csv", ["id", "text", "author"],
                      [["1", "bridge gone", "@alice"], ["2", "roof off", "@bob"]])
    run_import(project, [sheet])
    out = tmp_path / f"{name}-anon.csv"
    with project.open_store() as store:
        Exporter(store, hash_authors=True).write(out, "csv")
    again = tmp_path / f"{name}-anon-again.csv"
    with project.open_store() as store:  # reopened: the same salt
        Exporter(store, hash_authors=True).write(again, "csv")
    rows = {r["post_id"]: r["author"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows == {r["post_id"]: r["author"]
                    for r in csv.DictReader(again.open(encoding="utf-8"))}
    return rows


def test_hashed_authors_differ_between_projects(tmp_path: Path) -> None:
    first, second = _hashed_authors(tmp_path, "one"), _hashed_authors(tmp_path, "two")
    assert "@alice" not in first.values() and first["1"] != first["2"]
    assert first["1"] != second["1"] and first["2"] != second["2"]


def test_a_big_endian_utf16_sheet_is_read_as_utf16(tmp_path: Path, project: Project) -> None:
    sheet = tmp_path / "unicode.csv"
    sheet.write_bytes(codecs.BOM_UTF16_BE +
                      "id,text\r\n1,Évacuation à Saint-Martin\r\n".encode("utf-16-be"))
    job = run_import(project, [sheet])
    assert job.report.problems == []
    with project.open_store() as store:
        assert post_row(store, "unicode", "1")["text"] == "Évacuation à Saint-Martin"


def test_a_path_into_a_sibling_folder_named_like_the_source_is_refused(
        tmp_path: Path, project: Project) -> None:
    # "/data/posts-private" starts with "/data/posts": a prefix test let it in.
    make_image(tmp_path / "posts-private" / "id-card.jpg", 3)
    make_image(tmp_path / "posts" / "ok.jpg", 1)
    sheet = write_csv(tmp_path / "posts" / "posts.csv", ["id", "text", "image"],
                      [["1", "fine", "ok.jpg"],
                       ["2", "sneaky", "../posts-private/id-card.jpg"]])
    job = run_import(project, [sheet])
    (problem,) = job.report.problems
    assert problem.where.row == 3 and "leaves the source" in problem.message
    with project.open_store() as store:
        media = store.conn.execute(
            "SELECT m.status, m.path FROM media m JOIN posts p ON p.id = m.post"
            " WHERE p.post_id = '2'").fetchone()
    assert media["status"] == "unreadable" and media["path"] is None


def test_a_crisismmd_image_given_twice_with_two_labels_keeps_the_first_and_says_so(
        tmp_path: Path, project: Project) -> None:
    rows = [CMMD_SHORT,
            ["irma", "100", "100_0", "roof off", cmmd_image("100_0"), "severe_damage"],
            ["irma", "200", "200_0", "tree down", cmmd_image("200_0"), "mild_damage"],
            ["irma", "100", "100_0", "roof off", cmmd_image("100_0"), "mild_damage"],
            ["irma", "200", "200_0", "tree down", cmmd_image("200_0"), "mild_damage"]]
    split_file = tmp_path / "task_damage_text_img_train.tsv"
    split_file.write_text("".join("\t".join(r) + "\n" for r in rows), "utf-8")
    job = run_import(project, [split_file])
    errors = [p for p in job.report.problems if p.severity == "error"]
    (problem,) = errors  # the same image with the same label again is no problem
    assert problem.where.row == 4 and "100_0" in problem.message
    assert "first at row 2" in problem.message and "kept the first" in problem.message
    with project.open_store() as store:
        (item,) = items(store, "crisismmd", "100")
        assert label_of(store, item.id, "damage") == "severe_damage"


def test_an_own_crisismmd_export_imports_back_with_its_splits(
        tmp_path: Path, project: Project) -> None:
    sheet = write_csv(tmp_path / "posts.csv", ["id", "text", "damage", "damage_split"],
                      [["1", "roof off", "severe_damage", "test"],
                       ["2", "tree down", "mild_damage", "dev"],
                       ["3", "all fine", "little_or_no_damage", "train"]])
    run_import(project, [sheet])
    out = tmp_path / "task_damage_text_img.tsv"  # no split in the name: a split column
    with project.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
    other = Project.open(tmp_path / "other", create=True)
    run_import(other, [out])
    with other.open_store() as store:
        got = {pid: split_of(store, items(store, "crisismmd", pid)[0].id, "damage")
               for pid in ("1", "2", "3")}
    assert got == {"1": "test", "2": "dev", "3": "train"}


def test_every_spelling_of_the_validation_split_lands_in_dev(
        tmp_path: Path, project: Project) -> None:
    spellings = ("val", "Valid", "validation", "dev", "test", "training")
    sheet = write_csv(tmp_path / "posts.csv", ["id", "text", "damage", "split"],
                      [[str(k), f"post {k}", "mild_damage", split]
                       for k, split in enumerate(spellings)])
    job = run_import(project, [sheet])
    assert job.report.problems == []
    with project.open_store() as store:
        got = [split_of(store, items(store, "posts", str(k))[0].id, "damage")
               for k in range(len(spellings))]
    assert got == ["dev", "dev", "dev", "dev", "test", "train"]


def test_an_unknown_split_is_reported_with_its_row(tmp_path: Path, project: Project) -> None:
    sheet = write_csv(tmp_path / "posts.csv", ["id", "text", "damage", "split"],
                      [["1", "roof off", "mild_damage", "train"],
                       ["2", "tree down", "mild_damage", "holdout"]])
    job = run_import(project, [sheet])
    (problem,) = job.report.problems
    assert problem.where.file == str(sheet) and problem.where.row == 3
    assert "unknown split 'holdout'" in problem.message
    with project.open_store() as store:
        item = items(store, "posts", "2")[0].id
        assert split_of(store, item, "damage") is None
        assert label_of(store, item, "damage") == "mild_damage"  # the label still lands


def test_a_reimport_labels_an_item_whose_analyst_undid_their_label(
        tmp_path: Path, project: Project) -> None:
    header = ["id", "text", "damage"]
    sheet = write_csv(tmp_path / "posts.csv", header, [["1", "roof off", ""],
                                                       ["2", "tree down", ""]])
    run_import(project, [sheet])
    with project.open_store() as store:
        undone, kept = (items(store, "posts", pid)[0].id for pid in ("1", "2"))
        store.add_labels([LabelChange(undone, "damage", "mild_damage")], annotator="ana")
        store.undo("ana")  # ana takes her label back: the item is unlabelled again
        store.add_labels([LabelChange(kept, "damage", "mild_damage")], annotator="ana")
    # The source, updated, now labels both posts.
    write_csv(sheet, header, [["1", "roof off", "severe_damage"],
                              ["2", "tree down", "severe_damage"]])
    job = run_import(project, [sheet])
    with project.open_store() as store:
        assert label_of(store, undone, "damage") == "severe_damage"
        assert label_of(store, kept, "damage") == "mild_damage"  # ana's decision stands
    (warning,) = [str(p) for p in job.report.problems]
    assert "an analyst (ana) labelled it 'mild_damage'" in warning and "post 2" in warning
