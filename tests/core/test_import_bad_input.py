"""Bad input: each gets a clear report line naming the file (and row where there is
one), and the import carries on with the rest. Fixtures are built here in ``tmp_path``."""


from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from bad_input_helpers import (
    add_good_post,
    assert_good_post,
    crafted_png,
    make_image,
    media_of,
    noise_jpeg_bytes,
    post_row,
    problems_for,
    run_import,
    write_csv,
)

from crisisdesk.core.imaging import ImageLimits
from crisisdesk.core.importers import writer as writer_module
from crisisdesk.core.store import Store

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def inspected(monkeypatch) -> list[Path]:
    """Every path the writer hands to the image checker (which hashes and decodes it)."""
    seen: list[Path] = []
    real = writer_module.inspect_image

    def spy(path, limits=ImageLimits()):
        seen.append(Path(path))
        return real(path, limits)

    monkeypatch.setattr(writer_module, "inspect_image", spy)
    return seen




# --------------------------------------------------------------------------- bad images


# name, content, what the reason says, the size recorded (known only from a read header)
BAD_IMAGES = {
    "corrupt": ("bad.jpg", lambda: random.Random(3).randbytes(4096),
                "not an image crisisdesk reads", None),
    "truncated": ("bad.jpg", lambda: (lambda d: d[:len(d) // 2])(noise_jpeg_bytes()),
                  "truncated", None),
    "empty": ("bad.jpg", lambda: b"", "empty file (0 bytes)", None),
    "text_named_jpg": ("bad.jpg", lambda: b"Just some notes, not a picture.\n" * 20,
                       "not an image crisisdesk reads", None),
    "decompression_bomb": ("bad.png", lambda: crafted_png(100_000, 100_000),
                           "decompression bomb", None),
    "huge_20000x20000": ("bad.png", lambda: crafted_png(20_000, 20_000),
                         "decompression bomb", None),
    "over_our_pixel_limit": ("bad.png", lambda: crafted_png(11_000, 10_000),
                             "image too large to decode: 11000x10000", (11_000, 10_000)),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_image_in_folder_is_reported_and_the_rest_imports(proj, tmp_path, case):
    name, content, reason, dims = BAD_IMAGES[case]
    src = tmp_path / "posts"
    add_good_post(src)
    add_good_post(src / "later", "also_good", 2)
    bad = src / name
    bad.write_bytes(content())
    (src / "bad.txt").write_text("The bad image's post", "utf-8")

    job = run_import(proj, [src])
    (problem,) = problems_for(job, bad)
    assert problem.severity == "error"
    assert name in problem.message and "unreadable" in problem.message
    assert reason in problem.message
    assert job.report.media_added == {"ok": 2, "unreadable": 1}
    assert [p for p in job.report.problems if p is not problem] == []
    with proj.open_store() as store:
        assert_good_post(store, "posts")
        assert_good_post(store, "posts", "later/also_good")
        # The post itself is kept, its image recorded as unusable with the reason.
        assert post_row(store, "posts", "bad")["text"] == "The bad image's post"
        (media,) = media_of(store, "posts", "bad")
        assert media["status"] == "unreadable"
        assert reason in media["reason"]
        assert (media["width"], media["height"]) == (dims or (None, None))


def test_bad_image_in_a_csv_names_file_and_row(proj, tmp_path):
    src = tmp_path / "table"
    make_image(src / "ok.jpg", 1)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    table = write_csv(src / "t.csv", ["id", "text", "image"], [
        ["1", "fine", "ok.jpg"], ["2", "broken picture", "broken.jpg"],
        ["3", "missing picture", "gone.jpg"], ["4", "after the bad ones", "ok.jpg"]])
    job = run_import(proj, [table])
    by_row = {p.where.row: p for p in problems_for(job, table)}
    assert set(by_row) == {3, 4}
    assert "broken.jpg" in by_row[3].message and "unreadable" in by_row[3].message
    assert "gone.jpg" in by_row[4].message and "missing" in by_row[4].message
    assert "file not found" in by_row[4].message
    with proj.open_store() as store:
        assert [m["status"] for m in media_of(store, "t", "2")] == ["unreadable"]
        assert [m["status"] for m in media_of(store, "t", "3")] == ["missing"]
        assert [m["status"] for m in media_of(store, "t", "1")] == ["ok"]
        assert [m["status"] for m in media_of(store, "t", "4")] == ["ok"]


def test_image_limits_of_the_import_apply(proj, tmp_path):
    src = tmp_path / "limits"
    make_image(src / "wide.png", 1, size=(200, 100))
    make_image(src / "small.png", 2, size=(10, 10))
    job = run_import(proj, [src], image_limits=ImageLimits(max_pixels=10_000))
    (problem,) = problems_for(job, src / "wide.png")
    assert "200x100" in problem.message and "too large" in problem.message
    with proj.open_store() as store:
        assert [m["status"] for m in media_of(store, "limits", "small")] == ["ok"]
        assert [m["status"] for m in media_of(store, "limits", "wide")] == ["unreadable"]

    big = tmp_path / "bytes"
    make_image(big / "pic.png", 3, size=(64, 64))
    job = run_import(proj, [big], image_limits=ImageLimits(max_bytes=10))
    (problem,) = problems_for(job, big / "pic.png")
    assert "file too large" in problem.message


# --------------------------------------------------------------------------- text files


def test_non_utf8_csv_imports_with_a_warning(proj, tmp_path):
    table = tmp_path / "spreadsheet.csv"
    table.write_bytes(
        "id,text\n1,Café détruit – route coupée\n2,plain words\n".encode("cp1252"))
    job = run_import(proj, [table])
    (problem,) = job.report.problems
    assert problem.where.file == str(table)
    assert problem.severity == "warning"
    assert "not valid UTF-8" in problem.message and "line 2" in problem.message
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert post_row(store, "spreadsheet", "1")["text"] == "Café détruit – route coupée"
        assert post_row(store, "spreadsheet", "2")["text"] == "plain words"


def test_csv_without_an_id_column_is_refused_and_other_sources_import(proj, tmp_path):
    bad = write_csv(tmp_path / "no_id.csv", ["tweet", "text"], [["1", "hello"]])
    good = write_csv(tmp_path / "fine.csv", ["id", "text"], [["1", "hello"], ["2", "again"]])
    job = run_import(proj, [bad, good])
    (problem,) = problems_for(job, bad)
    assert problem.severity == "error"
    assert "'id'" in problem.message and "missing" in problem.message
    assert problem.where.row is None
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert store.conn.execute(
            "SELECT COUNT(*) FROM posts WHERE source = 'no_id'").fetchone()[0] == 0
        assert post_row(store, "fine", "2")["text"] == "again"


def test_malformed_jsonl_line_is_reported_with_its_number(proj, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": "a", "text": "first"}) + "\n"
        + '{"id": "b", "text": "cut off\n'
        + "\n"
        + json.dumps({"id": "c", "text": "fourth line"}) + "\n", "utf-8")
    job = run_import(proj, [feed])
    (problem,) = job.report.problems
    assert problem.where.file == str(feed) and problem.where.row == 2
    assert "malformed JSON" in problem.message
    with proj.open_store() as store:
        assert post_row(store, "feed", "a")["text"] == "first"
        assert post_row(store, "feed", "c")["text"] == "fourth line"
        assert post_row(store, "feed", "b") is None


def test_malformed_json_sidecar_is_reported_and_its_image_still_imports(proj, tmp_path):
    src = tmp_path / "posts"
    add_good_post(src)
    make_image(src / "odd.jpg", 5)
    (src / "odd.json").write_text('{"id": "odd-1", "text": "unterminated', "utf-8")
    job = run_import(proj, [src])
    (problem,) = job.report.problems
    assert problem.where.file == str(src / "odd.json")
    assert problem.where.row == 1
    assert "malformed JSON" in problem.message
    with proj.open_store() as store:
        assert_good_post(store, "posts")
        # The sidecar is unusable: the post takes its id from the file name, no text.
        assert post_row(store, "posts", "odd")["text"] == ""
        assert [m["status"] for m in media_of(store, "posts", "odd")] == ["ok"]


def test_huge_sidecar_is_refused_and_its_image_still_imports(proj, tmp_path):
    src = tmp_path / "posts"
    add_good_post(src)
    make_image(src / "big.jpg", 6)
    (src / "big.txt").write_bytes(b"flood " * 400_000)  # 2.4 MB: not a post's text
    job = run_import(proj, [src])
    (problem,) = job.report.problems
    assert problem.where.file == str(src / "big.txt")
    assert "file too large" in problem.message
    with proj.open_store() as store:
        assert_good_post(store, "posts")
        assert post_row(store, "posts", "big")["text"] == ""
        assert [m["status"] for m in media_of(store, "posts", "big")] == ["ok"]


def test_same_id_twice_with_different_content_keeps_the_first(proj, tmp_path):
    table = write_csv(tmp_path / "dupes.csv", ["id", "text", "damage"], [
        ["7", "the original", "severe_damage"],
        ["7", "a different text", "mild_damage"],
        ["8", "unrelated", ""],
    ])
    job = run_import(proj, [table])
    (problem,) = job.report.problems
    assert problem.where.file == str(table) and problem.where.row == 3
    assert "row 2" in problem.message and "7" in problem.message
    assert "kept the first" in problem.message
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert post_row(store, "dupes", "7")["text"] == "the original"
        post = store.find_post("dupes", "7")
        (item,) = store.items_of_post(post.id)
        assert [r["label"] for r in store.journal(item.id)] == ["severe_damage"]
        assert post_row(store, "dupes", "8")["text"] == "unrelated"


def test_same_row_twice_with_another_label_keeps_the_first(proj, tmp_path):
    # Same id, text and image but another label and split: no second image to label, so
    # the row would silently replace the first label and leave the first split.
    table = write_csv(tmp_path / "dupes.csv", ["id", "text", "damage", "split"], [
        ["7", "the original", "severe_damage", "train"],
        ["7", "the original", "mild_damage", "dev"],
        ["7", "the original", "Severe damage", "Train"],  # the same label, written otherwise
        ["8", "unrelated", "mild_damage", "dev"],
    ])
    job = run_import(proj, [table])
    (problem,) = job.report.problems
    assert problem.where.file == str(table) and problem.where.row == 3
    assert "row 2" in problem.message and "7" in problem.message
    assert "kept the first" in problem.message
    with proj.open_store() as store:
        post = store.find_post("dupes", "7")
        (item,) = store.items_of_post(post.id)
        assert [r["label"] for r in store.journal(item.id)] == ["severe_damage"]
        other = store.items_of_post(store.find_post("dupes", "8").id)[0]
        assert store.current_label(other.id, "damage").label == "mild_damage"


# --------------------------------------------------------------------------- escaping paths


@pytest.mark.parametrize("manifest", ["posts.csv", "posts.jsonl"])
def test_manifest_paths_leaving_the_source_are_refused_unread(proj, tmp_path, inspected,
                                                             manifest):
    outside = make_image(tmp_path / "secret" / "private.jpg", 9)
    src = tmp_path / "shared_folder"
    make_image(src / "img" / "ok.jpg", 1)
    os.symlink(outside, src / "img" / "alias.jpg")
    rows = [
        ("ok", "img/ok.jpg"),
        ("dotdot", "../secret/private.jpg"),
        ("sneaky", "img/../../secret/private.jpg"),
        ("absolute", str(outside)),
        ("backslash", "..\\secret\\private.jpg"),
        ("via_link", "img/alias.jpg"),
    ]
    if manifest == "posts.csv":
        write_csv(src / manifest, ["id", "text", "image"],
                  [[pid, f"post {pid}", path] for pid, path in rows])
    else:
        (src / manifest).write_text("".join(
            json.dumps({"id": pid, "text": f"post {pid}", "image": path}) + "\n"
            for pid, path in rows), "utf-8")
    job = run_import(proj, [src])

    assert outside not in inspected
    assert outside.resolve() not in [p.resolve() for p in inspected]
    problems = problems_for(job, src / manifest)
    first = 2 if manifest == "posts.csv" else 1  # the CSV's header is row 1
    assert sorted(p.where.row for p in problems) == [first + i for i in range(1, 6)]
    for problem in problems:
        assert "leaves the source" in problem.message
    with proj.open_store() as store:
        assert [m["status"] for m in media_of(store, "shared_folder", "ok")] == ["ok"]
        for pid, declared in rows[1:]:
            assert post_row(store, "shared_folder", pid)["text"] == f"post {pid}"
            (media,) = media_of(store, "shared_folder", pid)
            assert media["status"] == "unreadable"
            assert "leaves the source" in media["reason"]
            assert media["declared_path"] == declared
            assert media["path"] is None and media["sha256"] is None and media["size"] is None


def test_symlink_in_a_folder_pointing_outside_is_skipped(proj, tmp_path, inspected):
    outside = make_image(tmp_path / "elsewhere" / "private.jpg", 9)
    (tmp_path / "elsewhere" / "private.txt").write_text("private words", "utf-8")
    src = tmp_path / "posts"
    add_good_post(src)
    os.symlink(outside, src / "leak.jpg")
    os.symlink(tmp_path / "elsewhere" / "private.txt", src / "leak2.txt")
    os.symlink(tmp_path / "elsewhere", src / "linked_dir")
    job = run_import(proj, [src])

    (leak,) = problems_for(job, src / "leak.jpg")
    assert leak.severity == "error" and "symlink" in leak.message
    assert "out of the source" in leak.message and "skipped" in leak.message
    (leak2,) = problems_for(job, src / "leak2.txt")
    assert "out of the source" in leak2.message
    (linked,) = problems_for(job, src / "linked_dir")
    assert "symlinked folder not followed" in linked.message
    assert outside.resolve() not in [p.resolve() for p in inspected]
    assert job.report.posts_added == 1
    with proj.open_store() as store:
        assert_good_post(store, "posts")
        assert post_row(store, "posts", "leak") is None
        assert post_row(store, "posts", "leak2") is None
        assert store.conn.execute(
            "SELECT COUNT(*) FROM posts WHERE text LIKE '%private%'").fetchone()[0] == 0


# --------------------------------------------------------------------------- atomic records


def test_a_record_that_fails_to_write_leaves_nothing_half_written(proj, tmp_path,
                                                                 monkeypatch):
    src = tmp_path / "atomic"
    for name, seed in (("a.jpg", 1), ("b1.jpg", 2), ("b2.jpg", 3), ("c.jpg", 4)):
        make_image(src / name, seed)
    table = write_csv(src / "atomic.csv", ["id", "text", "image", "damage"], [
        ["p-a", "first", "a.jpg", "severe_damage"],
        ["p-bad", "second", "b1.jpg|b2.jpg", "severe_damage"],
        ["p-c", "third", "c.jpg", "mild_damage"],
    ])
    real = Store.add_media_item

    def failing(self, post, source, post_id, n, **kwargs):
        if post_id == "p-bad" and n == 1:  # after the post and its first image were added
            raise RuntimeError("disk on fire")
        return real(self, post, source, post_id, n, **kwargs)

    monkeypatch.setattr(Store, "add_media_item", failing)
    job = run_import(proj, [table])

    (problem,) = job.report.problems
    assert problem.where.file == str(table) and problem.where.row == 3
    assert "p-bad" in problem.message and "not imported" in problem.message
    assert "disk on fire" in problem.message
    # The report counts what is in the store, not what was rolled back.
    report = job.report
    assert (report.posts_added, report.items_added, report.labels_added) == (2, 2, 2)
    assert report.media_added == {"ok": 2}
    with proj.open_store() as store:
        assert post_row(store, "atomic", "p-bad") is None
        counts = store.counts()
        assert counts["posts"] == 2 and counts["items"] == 2 and counts["media"] == {"ok": 2}
        assert store.conn.execute(
            "SELECT COUNT(*) FROM media WHERE declared_path LIKE 'b%'").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 2
        assert post_row(store, "atomic", "p-a")["text"] == "first"
        assert post_row(store, "atomic", "p-c")["text"] == "third"

    # Once the fault is gone, importing again adds exactly the missing post.
    monkeypatch.setattr(Store, "add_media_item", real)
    again = run_import(proj, [table])
    assert again.report.problems == []
    assert again.report.posts_added == 1 and again.report.items_added == 2
    with proj.open_store() as store:
        assert [m["declared_path"] for m in media_of(store, "atomic", "p-bad")] == [
            "b1.jpg", "b2.jpg"]

