"""Export, then import into a new project: what crisisdesk's own CSV and JSON Lines
exports carry must come back as it was (media still to fetch, CrisisMMD image ids, an
image path with a separator character in it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import make_image, media_rows, run_import

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project

IMG = "https://files.example.org/media"


def _export_and_reimport(project: Project, tmp_path: Path, fmt: str, source: str,
                         **options) -> Project:
    """Export every task of ``project`` as ``fmt`` and import the file into a new
    project under ``source`` (the old project's source name, to keep the item ids)."""
    out = tmp_path / "exports" / f"labels.{fmt}"
    with project.open_store() as store:
        Exporter(store).write(out, fmt)
    again = Project.open(tmp_path / "again", create=True)
    job = run_import(again, [out], source=source, **options)
    assert job.report.errors == 0, job.report.summary()
    return again


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_collected_posts_images_stay_to_fetch_after_a_round_trip(tmp_path: Path,
                                                                   fmt: str) -> None:
    # A collector's media are URLs recorded as remote, fetched when asked. Exported and
    # imported by a colleague they came back "missing": media fetch then had nothing to
    # fetch, and the colleague's project could never show the photos.
    statuses = [{"id": "100", "created_at": "2024-09-27T11:00:00.000Z",
                 "content": "<p>Underpass flooded</p>", "language": "en",
                 "url": "https://mastodon.example/@ops/100", "sensitive": False,
                 "account": {"id": "a1", "acct": "ops@mastodon.example"},
                 "media_attachments": [{"id": "m1", "type": "image",
                                        "url": f"{IMG}/m1.jpg",
                                        "description": "A bus stuck in water"}]}]
    collected = tmp_path / "helene.json"
    collected.write_text(json.dumps(statuses), "utf-8")
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [collected])
    again = _export_and_reimport(project, tmp_path, fmt, "helene")
    with again.open_store() as store:
        [media] = media_rows(store, "helene", "100")
        assert (media["status"], media["url"]) == ("remote", f"{IMG}/m1.jpg")
        assert media["alt_text"] == "A bus stuck in water"
        assert store.count_remote_media() == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_crisismmd_image_id_of_another_tweet_survives_a_round_trip(tmp_path: Path,
                                                                     fmt: str) -> None:
    # CrisisMMD's tweet 905274232590004225 carries image 901671684478029825_0: after a
    # CSV or JSONL round trip that id no longer named the item, and the colleague's
    # CrisisMMD export wrote 905274232590004225_0 in its place.
    tsv = tmp_path / "task_damage_text_img_train.tsv"
    tsv.write_text("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
                   "hurricane_harvey\t905\t901_0\tCongrats\tdata_image/901_0.jpg\t"
                   "severe_damage\n", "utf-8")
    make_image(tmp_path / "data_image" / "901_0.jpg")
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [tsv], images_root=tmp_path)
    again = _export_and_reimport(project, tmp_path, fmt, "crisismmd",
                                 images_root=tmp_path)
    with again.open_store() as store:
        assert store.resolve_item("901_0").uid == "crisismmd:905:0"
        out = tmp_path / "task_damage_text_img.tsv"
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
    assert out.read_text("utf-8").splitlines()[1].split("\t")[:3] == [
        "hurricane_harvey", "905", "901_0"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_image_path_with_a_semicolon_stays_one_image(tmp_path: Path, fmt: str) -> None:
    # One row of an export is one item, one image: its path was split at ';' (a list of
    # images in an analyst's sheet), so "Harvey; day 1/IMG 1.jpg" came back as two
    # missing pictures, each with the label.
    folder = tmp_path / "photos"
    make_image(folder / "Harvey; day 1" / "IMG 1.jpg")
    (folder / "Harvey; day 1" / "IMG 1.json").write_text(json.dumps(
        {"id": "77", "text": "Main St under water", "labels": {"damage": "severe_damage"}}),
        "utf-8")
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [folder])
    again = _export_and_reimport(project, tmp_path, fmt, "photos", images_root=folder)
    with again.open_store() as store:
        media = media_rows(store, "photos", "77")
        assert [(m["declared_path"], m["status"]) for m in media] == [
            ("Harvey; day 1/IMG 1.jpg", "ok")]
        assert store.counts()["items"] == 1
