"""Tables with CrisisMMD's columns that are not CrisisMMD's own split files: a split file
converted to CSV or JSON Lines, or a sheet built with its ``tweet_id`` and ``image_id``.
Their items must be the ones CrisisMMD's own file gives: the image id's n, the image id
kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import CMMD_SHORT, cmmd_image, run_import, write_csv, write_jsonl

from crisisdesk.core.importers import WatchJob, WatchOptions
from crisisdesk.core.project import Project

# Tweet 300 lacks its first image (as in CrisisMMD's task files, where _0 was dropped);
# tweet 400 shows tweet 999's image (CrisisMMD has such pairs).
ROWS = [
    ["hurricane_irma", "300", "300_1", "Roof gone on Elm St", cmmd_image("300_1"),
     "severe_damage"],
    ["hurricane_irma", "300", "300_2", "Roof gone on Elm St", cmmd_image("300_2"),
     "mild_damage"],
    ["hurricane_irma", "400", "999_0", "Same photo again", cmmd_image("999_0"),
     "little_or_no_damage"],
]


def _tsv(folder: Path) -> Path:
    """The rows as CrisisMMD's own damage split file."""
    return write_csv(folder / "task_damage_text_img_dev.tsv", CMMD_SHORT, ROWS,
                     dialect="excel-tab")


def _converted(folder: Path, fmt: str) -> Path:
    """The rows as a researcher's conversion of the split file to CSV or JSON Lines."""
    if fmt == "csv":
        return write_csv(folder / "damage_dev.csv", CMMD_SHORT, ROWS)
    return write_jsonl(folder / "damage_dev.jsonl",
                       [dict(zip(CMMD_SHORT, row, strict=True)) for row in ROWS])


def _items(project: Project) -> dict[str, str | None]:
    """Each item's ``<post id>:<n>`` (its id without the source) and its image id."""
    with project.open_store() as store:
        return {uid.split(":", 1)[1]: external for uid, external in store.conn.execute(
            "SELECT uid, external_id FROM items")}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_converted_crisismmd_file_gives_the_items_of_the_file_itself(
        tmp_path: Path, fmt: str) -> None:
    # Numbered in file order, image 300_2 was item 300:1 (and 300_1 item 300:0), with no
    # image id: a later CrisisMMD import of the same tweets labelled other items.
    converted = Project.open(tmp_path / "converted", create=True)
    job = run_import(converted, [_converted(tmp_path, fmt)],
                     mapping={"label_damage": "label"})
    assert job.report.errors == 3  # the images are not there: reported, posts imported
    itself = Project.open(tmp_path / "itself", create=True)
    run_import(itself, [_tsv(tmp_path)])
    assert _items(converted) == _items(itself) == {
        "300:1": "300_1", "300:2": "300_2", "400:0": "999_0"}
    assert any("image_id 999_0 belongs to another tweet than 400" in str(p)
               for p in job.report.problems)


def test_an_item_of_a_converted_file_is_found_by_its_image_id(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [_converted(tmp_path, "csv")])
    with project.open_store() as store:
        assert store.resolve_item("300_2").uid == "damage_dev:300:2"
        assert store.resolve_item("999_0").uid == "damage_dev:400:0"


def test_crisismmds_own_file_imported_later_labels_the_converted_files_items(
        tmp_path: Path) -> None:
    # Filed under the same source (--source crisismmd, the CrisisMMD importer's), the
    # converted file's posts are the file's: its labels land on the same items. Before,
    # the file added items 300:1 and 300:2 beside the converted 300:0 and 300:1.
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [_converted(tmp_path, "csv")], source="crisismmd")
    before = _items(project)
    run_import(project, [_tsv(tmp_path)])
    assert _items(project) == before
    with project.open_store() as store:
        assert store.current_label(store.resolve_item("300_2").id, "damage").label == \
            "mild_damage"
        assert store.current_label(store.resolve_item("crisismmd:400:0").id,
                                   "damage").label == "little_or_no_damage"


def test_under_two_sources_an_image_id_names_the_same_item_of_each(tmp_path: Path) -> None:
    # The converted file's source is its name, the split file's `crisismmd`: two posts
    # per tweet, the short id ambiguous, but both items are the image's.
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [_converted(tmp_path, "csv")])
    run_import(project, [_tsv(tmp_path)])
    with project.open_store() as store, pytest.raises(LookupError) as caught:
        store.resolve_item("300_2")
    assert "crisismmd:300:2, damage_dev:300:2" in str(caught.value)


def test_an_image_id_that_is_no_crisismmd_id_is_said_and_the_row_imported(
        tmp_path: Path) -> None:
    # A sheet's own image_id ("IMG_0003") is no <post id>_<n>: not read as image 3 of
    # post IMG's.
    table = write_csv(tmp_path / "sheet.csv", ["id", "image_id", "text", "image"],
                      [["7", "IMG_0003", "Flood at the market", "img/IMG_0003.jpg"]])
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    assert _items(project) == {"7:0": None}
    assert any("sheet.csv row 2" in str(p) and "image_id 'IMG_0003' is not <post id>_<n>"
               in str(p) for p in job.report.problems)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_watched_converted_file_gives_the_items_of_the_file_itself(
        tmp_path: Path, fmt: str) -> None:
    # A watch read a JSONL line by line, numbering its images in file order: the same
    # file dropped into a watched folder gave other items than `crisisdesk import`.
    folder = tmp_path / "drop"
    _converted(folder, fmt)
    project = Project.open(tmp_path / "p", create=True)
    run = WatchJob(project, folder, watch=WatchOptions(interval=0, settle=3600)).run()
    try:
        next(run)
    finally:
        run.close()
    itself = Project.open(tmp_path / "itself", create=True)
    run_import(itself, [_tsv(tmp_path)])
    assert _items(project) == _items(itself)


def test_an_image_id_given_twice_with_another_label_keeps_the_first(tmp_path: Path) -> None:
    # Both rows are item 5:0 (image 5_0) whatever their image cells say: the second
    # row's label silently replaced the first's, as no earlier row seemed to label it.
    table = write_csv(tmp_path / "sheet.csv", ["tweet_id", "image_id", "tweet_text",
                                               "image", "damage"], [
        ["5", "5_0", "Bridge down", "img/5_0.jpg", "severe_damage"],
        ["5", "5_0", "Bridge down", "img/5_0 (copy).jpg", "mild_damage"]])
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    with project.open_store() as store:
        assert store.current_label(store.resolve_item("5_0").id, "damage").label == \
            "severe_damage"
    assert any("sheet.csv row 3: post id 5 appears again (first at row 2) with damage "
               "label 'mild_damage'" in str(p) for p in job.report.problems)


def test_a_sheet_of_its_own_image_ids_is_told_once_and_a_media_key_is_no_index(
        tmp_path: Path) -> None:
    # 50,000 rows of a sheet's own ids gave 50,000 warnings; a Twitter media key of the
    # same shape ("3_1460323737035677698") became image 1,460,323,737,035,677,698.
    rows = [[str(k), f"IMG_{k:04d}", f"post {k}", f"img/{k}.jpg"] for k in range(5)]
    rows.append(["9", "3_1460323737035677698", "post 9", "img/9.jpg"])
    table = write_csv(tmp_path / "sheet.csv", ["id", "image_id", "text", "image"], rows)
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    said = [p for p in job.report.problems if "is not <post id>_<n>" in str(p)]
    assert len(said) == 1
    assert _items(project)["9:0"] is None  # numbered in file order, its id not kept
