"""Sensitive posts and alt texts: what the collectors say (twarc2 ``possibly_sensitive`` and
media ``alt_text``, Mastodon ``sensitive`` and attachment ``description``, Bluesky labels
and image ``alt``) and the optional CSV/JSONL columns, stored on posts and media; the
migration that adds the columns to an older project; re-imports that fill what was empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import errors, make_image, media_rows, post_row, run_import, write_csv
from old_schema import as_schema
from test_import_collectors import (
    build_bluesky_feed,
    build_bluesky_search,
    build_mastodon_array,
    build_twarc,
    twarc_page,
    tweet,
)

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.importers.jsonsource import flag_of
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange, Store

BSKY = "at://did:plc:ops/app.bsky.feed.post/"


def alt_texts(store: Store, source: str, post_id: str) -> list[str | None]:
    return [m["alt_text"] for m in media_rows(store, source, post_id)]


def test_twarc_possibly_sensitive_and_media_alt_text_are_stored(proj, tmp_path):
    run_import(proj, [build_twarc(tmp_path / "irma.jsonl")])
    with proj.open_store() as store:
        assert post_row(store, "irma", "1")["sensitive"] == 0
        assert post_row(store, "irma", "10")["sensitive"] == 1
        # The retweet shows the original's photo: the original's mark blurs it too.
        assert post_row(store, "irma", "2")["sensitive"] == 1
        assert post_row(store, "irma", "6")["sensitive"] is None  # the page does not say
        assert alt_texts(store, "irma", "1") == ["Brown water up to the doors of parked cars"]
        assert alt_texts(store, "irma", "6") == [None]


def test_mastodon_sensitive_and_attachment_descriptions_are_stored(proj, tmp_path):
    run_import(proj, [build_mastodon_array(tmp_path / "tag_flood.json")])
    with proj.open_store() as store:
        assert post_row(store, "tag_flood", "100")["sensitive"] == 0
        assert post_row(store, "tag_flood", "90")["sensitive"] == 1
        assert post_row(store, "tag_flood", "101")["sensitive"] == 1  # a reblog of 90
        assert alt_texts(store, "tag_flood", "100") == [
            "Flooded underpass, a bus stuck in it", None]


def test_bluesky_labels_self_labels_and_image_alt_are_stored(proj, tmp_path):
    run_import(proj, [build_bluesky_search(tmp_path / "search.json")])
    run_import(proj, [build_bluesky_feed(tmp_path / "feed.jsonl")])
    with proj.open_store() as store:
        assert post_row(store, "search", BSKY + "p1")["sensitive"] == 1  # graphic-media
        assert post_row(store, "search", BSKY + "p2")["sensitive"] == 1  # self-label
        assert post_row(store, "search", BSKY + "p3")["sensitive"] == 0  # negated label
        assert post_row(store, "search", BSKY + "p4")["sensitive"] is None  # no labels
        assert alt_texts(store, "search", BSKY + "p1") == ["Collapsed roof of a house", None]
        repost = post_row(store, "feed", "at://did:plc:ops/app.bsky.feed.repost/r1")
        assert repost["sensitive"] == 1


def test_flag_of_any_true_wins_and_none_when_unsaid():
    assert flag_of(None, True) is True
    assert flag_of(False, "yes") is False  # only booleans count
    assert flag_of(None, "true") is None


def test_a_reimport_fills_what_was_empty_and_never_takes_a_mark_back(proj, tmp_path):
    src = tmp_path / "page.jsonl"
    media = {"media_key": "3_1", "type": "photo", "url": "https://pbs.example.org/a.jpg"}

    def write(sensitive: bool | None, alt: str | None) -> None:
        extra = {} if sensitive is None else {"possibly_sensitive": sensitive}
        page = twarc_page([tweet("1", "Water rising", media=["3_1"], **extra)])
        page["includes"]["media"] = [{**media, **({"alt_text": alt} if alt else {})}]
        src.write_text(json.dumps(page) + "\n", "utf-8")

    write(None, None)
    run_import(proj, [src])
    write(False, "Cars in brown water")
    run_import(proj, [src])
    with proj.open_store() as store:
        assert post_row(store, "page", "1")["sensitive"] == 0
        assert alt_texts(store, "page", "1") == ["Cars in brown water"]
    write(True, "Another description")
    run_import(proj, [src])
    write(False, None)  # a later "not sensitive", and no alt text: nothing is taken back
    run_import(proj, [src])
    with proj.open_store() as store:
        assert post_row(store, "page", "1")["sensitive"] == 1
        assert alt_texts(store, "page", "1") == ["Cars in brown water"]  # the first kept


def test_csv_sensitive_and_alt_text_columns(proj, tmp_path):
    for n in range(3):
        make_image(tmp_path / "src" / f"{n}.jpg", seed=n)
    src = write_csv(tmp_path / "src" / "posts.csv", ["id", "text", "image", "sensitive",
                                                      "alt_text"], [
        ["1", "one image", "0.jpg", "Yes", "A body under a blanket; rescuers | police"],
        ["2", "two images", "1.jpg|2.jpg", "no", "First photo | "],
        ["3", "no flag", "", "", ""],
        ["4", "odd flag", "", "maybe", ""],
        ["5", "too many alts", "0.jpg|1.jpg", "1", "a|b|c"],
    ])
    job = run_import(proj, [src])
    assert errors(job) == []
    warnings = [str(p) for p in job.report.problems]
    assert f"warning: {src} row 5: sensitive 'maybe' is not one of true/false/1/0/yes/no; " \
           "left unknown" in warnings
    assert f"warning: {src} row 6: alt_text has 3 parts for 2 images (separate them with " \
           "'|'); alt texts not kept" in warnings
    assert job.report.posts_added == 5  # the odd cells did not stop their rows
    with proj.open_store() as store:
        assert [post_row(store, "posts", i)["sensitive"] for i in "12345"] == [
            1, 0, None, None, 1]
        # One image takes the whole cell, '|' and ';' included.
        assert alt_texts(store, "posts", "1") == ["A body under a blanket; rescuers | police"]
        assert alt_texts(store, "posts", "2") == ["First photo", None]
        assert alt_texts(store, "posts", "5") == [None, None]


def test_jsonl_sensitive_booleans_and_alt_text_lists(proj, tmp_path):
    for n in range(2):
        make_image(tmp_path / "src" / f"{n}.jpg", seed=n)
    src = tmp_path / "src" / "posts.jsonl"
    src.write_text(json.dumps({"id": "1", "text": "two", "images": ["0.jpg", "1.jpg"],
                               "sensitive": True, "alt_text": ["left", "right"]}) + "\n",
                   "utf-8")
    job = run_import(proj, [src])
    assert job.report.problems == []
    with proj.open_store() as store:
        assert post_row(store, "posts", "1")["sensitive"] == 1
        assert alt_texts(store, "posts", "1") == ["left", "right"]


def test_an_older_project_gains_the_columns_and_keeps_its_posts(tmp_path, monkeypatch):

    path = tmp_path / "old.sqlite"
    with monkeypatch.context() as patch:  # a project as schema 6 wrote it
        as_schema(patch, 6)
        with Store(path) as old:
            old.ensure_source("src", "csv", "/data/src.csv")
            post = old.insert_post("src", "1", text="before")
            item = old.add_media_item(post, "src", "1", 0, path=None, declared_path="a.jpg",
                                      status="missing")
            old.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
            assert "sensitive" not in old.db["posts"].columns_dict
    with Store(path) as store:
        assert store.migrated_from == 6
        row = store.conn.execute("SELECT p.sensitive, m.alt_text FROM posts p"
                                 " JOIN media m ON m.post = p.id").fetchone()
        assert tuple(row) == (None, None)  # unknown, not "not sensitive"
        assert store.current_label(item, "damage").label == "mild_damage"
        store.mark_sensitive(post, True)
        store.fill_alt_text(store.items_of_post(post)[0].media, "a roof")
        row = store.conn.execute("SELECT p.sensitive, m.alt_text FROM posts p"
                                 " JOIN media m ON m.post = p.id").fetchone()
        assert tuple(row) == (1, "a roof")


def test_posts_without_the_new_fields_write_into_an_older_store(tmp_path: Path, monkeypatch):
    # The columns are named only when set: an import into a store at schema 6 (the
    # migration tests' shape) still works for posts that do not say.

    as_schema(monkeypatch, 6)
    project = Project.open(tmp_path / "p6", create=True)
    with project.open_store() as store:
        store.ensure_source("s", "csv", "x")
        pk = store.insert_post("s", "1", text="t", sensitive=None)
        store.add_media_item(pk, "s", "1", 0, path=None, declared_path="a", status="missing",
                             alt_text=None)
        assert store.items_of_post(pk)[0].declared_path == "a"


def test_the_review_rows_and_detail_carry_the_mark_and_the_alt_text(proj, tmp_path):
    from crisisdesk.core import review

    run_import(proj, [build_twarc(tmp_path / "irma.jsonl")])
    with proj.open_store() as store:
        by_post = {uid.split(":")[1]: store.item_by_uid(uid).id
                   for uid in ("irma:1:0", "irma:10:0", "irma:6:0")}
        marks = {post: review.item_detail(store, item).row.sensitive
                 for post, item in by_post.items()}
        assert marks == {"1": False, "10": True, "6": None}
        page = review.queue_page(store, review.Queue("all"), offset=0, limit=50)
        assert {r.uid: r.sensitive for r in page}["irma:10:0"] is True
        assert review.item_detail(store, by_post["1"]).alt_text == \
            "Brown water up to the doors of parked cars"
        assert review.item_detail(store, by_post["6"]).alt_text is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_carries_the_marks_and_alt_texts_into_another_project(proj, tmp_path, fmt):
    """Export, then import into a fresh project (as labels travel between projects):
    a sensitive post stays blurred there, and the poster's descriptions come along."""
    for n in range(2):
        make_image(tmp_path / "src" / f"{n}.jpg", seed=n)
    src = write_csv(tmp_path / "src" / "posts.csv", ["id", "text", "image", "sensitive",
                                                      "alt_text"], [
        ["1", "flood victims", "0.jpg|1.jpg", "yes", '["A body under a blanket", ""]'],
        ["2", "all clear", "", "no", ""],
        ["3", "no flag given", "", "", ""],
    ])
    assert errors(run_import(proj, [src])) == []
    out = tmp_path / f"export.{fmt}"
    with proj.open_store() as store:
        Exporter(store).write(out, fmt)
    other = Project.open(tmp_path / "other", create=True)
    job = run_import(other, [out], images_root=tmp_path / "src", source="posts")
    assert not [p for p in job.report.problems if "alt_text" in str(p) or "sensitive" in
                str(p)]
    with other.open_store() as store:
        assert [post_row(store, "posts", i)["sensitive"] for i in "123"] == [1, 0, None]
        assert alt_texts(store, "posts", "1") == ["A body under a blanket", None]


def test_an_alt_text_on_a_row_without_images_is_reported(proj, tmp_path):
    # It was dropped without a word: an analyst would not know the column was ignored.
    src = write_csv(tmp_path / "src" / "posts.csv", ["id", "text", "image", "alt_text"], [
        ["1", "text only", "", "A flooded street"],
        ["2", "text only, no alt", "", ""],
    ])
    job = run_import(proj, [src])
    assert [str(p) for p in job.report.problems] == [
        f"warning: {src} row 2: alt_text given for a row without images; not kept"]
    assert job.report.posts_added == 2
