"""Re-importing crisisdesk's own exports of a project of several sources, and folders
(or zips of them) that hold a table beside the images its rows name."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import make_image, run_import, zip_folder

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _two_teams(tmp_path: Path) -> Project:
    """A project of two sources, teamA and teamB, each with a post of id 1 (different
    posts), teamB's corrected by an analyst and teamA's given a split."""
    (tmp_path / "teamA.csv").write_text(
        "id,text,damage,split\n1,Bridge down on Route 9,severe_damage,train\n"
        "2,Road open again,little_or_no_damage,dev\n", "utf-8")
    (tmp_path / "teamB.csv").write_text(
        "id,text,damage\n1,Flooded basement in Elm St,mild_damage\n", "utf-8")
    project = Project.open(tmp_path / "first", create=True)
    for name in ("teamA.csv", "teamB.csv"):
        assert run_import(project, [tmp_path / name]).report.errors == 0
    with project.open_store() as store:
        item = store.resolve_item("teamB:1:0")
        store.add_labels([LabelChange(item.id, "damage", "severe_damage")], annotator="ana")
    return project


def _current(project: Project) -> dict[str, tuple]:
    """Each item's text and damage label, split and provenance, by item id."""
    with project.open_store() as store:
        return {item["item_id"]: (item["text"], *(item["tasks"]["damage"][key] for key in (
            "label", "split", "label_source", "annotator", "labelled_at")))
            for item in store.export_items(["damage"])}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_of_several_sources_keeps_each_sources_posts_and_labels(
        tmp_path: Path, fmt: str) -> None:
    # Every row went under the file's name: teamB's post 1 "appeared again with
    # different content" and was dropped with the analyst's correction, and the item
    # ids all changed to all:...
    project = _two_teams(tmp_path)
    out = tmp_path / f"all.{fmt}"
    with project.open_store() as store:
        Exporter(store).write(out, fmt)
    again = Project.open(tmp_path / "again", create=True)
    job = run_import(again, [out])
    assert job.report.errors == 0, job.report.summary()
    assert _current(again) == _current(project)
    assert _current(again)["teamB:1:0"][1:5] == ("severe_damage", None, "human", "ana")
    assert _current(again)["teamA:1:0"][2] == "train"
    with again.open_store() as store:
        assert sorted(store.counts()["sources"]) == ["teamA", "teamB"]
    # Imported again (or into the first project) it adds nothing.
    for target in (again, project):
        report = run_import(target, [out]).report
        assert (report.posts_added, report.labels_added, report.errors) == (0, 0, 0)


def test_an_export_of_one_source_is_still_filed_under_the_files_name(
        tmp_path: Path) -> None:
    project = Project.open(tmp_path / "first", create=True)
    (tmp_path / "teamA.csv").write_text("id,text\n1,Bridge down\n", "utf-8")
    run_import(project, [tmp_path / "teamA.csv"])
    out = tmp_path / "labels.csv"
    with project.open_store() as store:
        Exporter(store).write(out, "csv")
    again = Project.open(tmp_path / "again", create=True)
    run_import(again, [out])
    assert list(_current(again)) == ["labels:1:0"]


def test_source_given_for_an_export_of_several_sources_files_all_under_it(
        tmp_path: Path) -> None:
    # --source asks for one source: two posts of id 1 cannot both be merged:1, and the
    # second one's labels must not land on the first's item.
    project = _two_teams(tmp_path)
    out = tmp_path / "all.csv"
    with project.open_store() as store:
        Exporter(store).write(out, "csv")
    again = Project.open(tmp_path / "again", create=True)
    report = run_import(again, [out], source="merged").report
    assert sorted(_current(again)) == ["merged:1:0", "merged:2:0"]
    assert _current(again)["merged:1:0"][:2] == ("Bridge down on Route 9", "severe_damage")
    assert _current(again)["merged:1:0"][3:5] == ("import", "teamA")
    [error] = [p for p in report.problems if p.severity == "error"]
    assert "source teamB" in error.message and "source teamA" in error.message
    assert error.where.row == 4


def _sheet_folder(tmp_path: Path) -> Path:
    """A folder with sheet.csv naming the three images of img/, one more image no row
    names, and a text-only sidecar post."""
    folder = tmp_path / "drive"
    for n in range(4):
        make_image(folder / "img" / f"{n}.jpg", seed=n)
    (folder / "sheet.csv").write_text(
        "id,text,image\n1,Flooded street,img/0.jpg\n2,Roof torn off,img/1.jpg\n"
        "3,Shelter open,IMG/2.JPG\n", "utf-8")
    (folder / "note.txt").write_text("Power cut in the north", "utf-8")
    return folder


@pytest.mark.parametrize("as_zip", [False, True])
def test_images_a_folders_table_names_are_its_rows_not_posts_of_their_own(
        tmp_path: Path, as_zip: bool) -> None:
    # A folder: each image was imported twice, with its row and as a text-less post of
    # its own. A zip of it: only the table, the image no row names and the sidecar post
    # left out without a word.
    folder = _sheet_folder(tmp_path)
    source = zip_folder(folder, tmp_path / "drive.zip") if as_zip else folder
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [source])
    assert job.report.errors == 0, job.report.summary()
    with project.open_store() as store:
        posts = {item["post_id"]: (item["text"], Path(item["image_path"] or "").name)
                 for item in store.export_items(["damage"])}
    assert posts == {"1": ("Flooded street", "0.jpg"), "2": ("Roof torn off", "1.jpg"),
                     "3": ("Shelter open", "2.jpg"), "img/3": ("", "3.jpg"),
                     "note": ("Power cut in the north", "")}
