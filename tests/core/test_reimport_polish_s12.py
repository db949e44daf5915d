"""Re-imports of crisisdesk's own exports, polished after an end-to-end run: an export
whose images were not brought along, a CrisisMMD-format export's label sources, and
what ``--hash-authors`` leaves of the caption model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from import_helpers import errors, make_image, run_import

from crisisdesk.core.exporters import Exporter, model_name
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _photos(tmp_path: Path, corrupt: bool = False) -> Project:
    """A project of two posts with an image each (the second corrupt when asked) and a
    text-only post, damage labels on all three; the folder of images is tmp_path/src."""
    src = tmp_path / "src"
    make_image(src / "a.jpg", 1)
    if corrupt:
        (src / "b.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    else:
        make_image(src / "b.jpg", 2)
    (src / "posts.csv").write_text(
        "id,text,image,damage\n1,Bridge down,a.jpg,severe_damage\n"
        "2,Road flooded,b.jpg,mild_damage\n3,Text only,,mild_damage\n", "utf-8")
    project = Project.open(tmp_path / "first", create=True)
    run_import(project, [src / "posts.csv"])
    return project


def _export(project: Project, out: Path, fmt: str, **options) -> Path:
    with project.open_store() as store:
        Exporter(store, **options).write(out, fmt)
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_without_its_images_says_so_once_and_is_no_error(
        tmp_path: Path, fmt: str) -> None:
    out = _export(_photos(tmp_path), tmp_path / f"labels.{fmt}", fmt)
    shutil.move(tmp_path / "src", tmp_path / "elsewhere")  # the images stayed behind
    again = Project.open(tmp_path / "again", create=True)
    job = run_import(again, [out])
    assert errors(job) == []
    said = [str(p) for p in job.report.problems if "--images-root" in str(p)]
    assert len(said) == 1 and "2 " in said[0], job.report.summary()
    with again.open_store() as store:
        assert store.counts()["posts"] == 3
        statuses = [i["image_status"] for i in store.export_items(["damage"])]
    assert sorted(s or "" for s in statuses) == ["", "missing", "missing"]
    # Given the folder, they attach.
    job = run_import(again, [out], images_root=tmp_path / "elsewhere")
    assert errors(job) == [] and job.report.media_attached == 2, job.report.summary()


def test_an_export_with_a_corrupt_image_still_names_its_row(tmp_path: Path) -> None:
    out = _export(_photos(tmp_path, corrupt=True), tmp_path / "labels.csv", "csv")
    again = Project.open(tmp_path / "again", create=True)
    job = run_import(again, [out], images_root=tmp_path / "src")
    assert len(errors(job)) == 1 and "b.jpg" in errors(job)[0], job.report.summary()


def test_a_table_that_is_no_export_still_says_each_missing_image(tmp_path: Path) -> None:
    (tmp_path / "sheet.csv").write_text("id,text,image\n1,a,a.jpg\n2,b,b.jpg\n", "utf-8")
    job = run_import(Project.open(tmp_path / "p", create=True), [tmp_path / "sheet.csv"])
    assert len(errors(job)) == 2


def test_a_crisismmd_export_keeps_who_gave_each_label(tmp_path: Path) -> None:
    project = _photos(tmp_path)
    with project.open_store() as store:
        item = store.resolve_item("posts:2:0")
        store.add_labels([LabelChange(item.id, "damage", "severe_damage")], annotator="ana")
    out = _export(project, tmp_path / "task_damage_text_img.tsv", "crisismmd",
                  tasks=["damage"])
    again = Project.open(tmp_path / "again", create=True)
    run_import(again, [out], images_root=tmp_path / "src")
    with again.open_store() as store:
        sources = {i["post_id"]: i["tasks"]["damage"]["label_source"]
                   for i in store.export_items(["damage"])}
    assert sources == {"1": "import", "2": "human", "3": "import"}


@pytest.mark.parametrize(("written", "name"), [
    ("/home/alice/models/llava (4bit, float16)", "llava (4bit, float16)"),
    ("C:\\Users\\alice\\models\\llava\\ (none, bfloat16)", "llava (none, bfloat16)"),
    ("llava-1.5 via http://alice-laptop.local:8000/v1", "llava-1.5"),
    ("/srv/alice/llava via https://gpu.example.org/v1", "llava"),
    ("tiny-captioner", "tiny-captioner"),
])
def test_model_name_keeps_no_path_or_server(written: str, name: str) -> None:
    assert model_name(written) == name


def test_hashed_authors_leave_out_where_the_caption_model_ran(tmp_path: Path) -> None:
    project = _photos(tmp_path)
    with project.open_store() as store:
        sha = next(i["image_sha256"] for i in store.export_items(["damage"])
                   if i["item_id"] == "posts:1:0")
        store.add_caption(sha, "Bridge down", "local:llava", "v1", "A bridge.",
                          model="/home/alice/models/llava (4bit, float16)")
    plain = _export(project, tmp_path / "plain.csv", "csv").read_text("utf-8")
    hashed = _export(project, tmp_path / "hashed.csv", "csv",
                     hash_authors=True).read_text("utf-8")
    assert "/home/alice" in plain
    assert "alice" not in hashed and "llava (4bit, float16)" in hashed
