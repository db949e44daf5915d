"""Each importer end to end: folders, manifests, CSV, JSONL, CrisisMMD and zip archives.
Fixtures are built here in ``tmp_path`` (builders in ``import_helpers``)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from import_helpers import (  # the shared builders and look-ups
    build_crisismmd,
    build_crisismmd_images,
    build_csv_source,
    build_jsonl_source,
    build_manifest_folder,
    build_posts_folder,
    cmmd_image,
    crisismmd_files,
    errors,
    items,
    label_of,
    make_image,
    media_rows,
    post_row,
    run_import,
    sha256,
    split_of,
    write_csv,
    zip_folder,
)

# --------------------------------------------------------------------------- folder


def test_folder_of_posts_with_sidecars_nesting_and_text_only_post(proj, tmp_path):
    src = build_posts_folder(tmp_path / "field_posts")
    job = run_import(proj, [src])
    report = job.report
    assert errors(job) == []
    assert report.posts_added == 6
    assert report.items_added == 6
    assert report.media_added == {"ok": 5}
    assert report.labels_added == 2
    with proj.open_store() as store:
        counts = store.counts()
        assert counts["posts"] == 6
        assert counts["items"] == 6
        assert counts["text_only_items"] == 1
        assert counts["media"] == {"ok": 5}
        assert set(counts["sources"]) == {"field_posts"}

        # Ids: the sidecar's "id", else the path inside the folder without suffix.
        assert post_row(store, "field_posts", "p1")["text"] == "Flooded street near the market"
        nested = post_row(store, "field_posts", "sub/deeper/p3")
        assert nested["text"] == "Nested post"
        assert post_row(store, "field_posts", "sub/p5")["text"] == ""
        tw2 = post_row(store, "field_posts", "tw-2")
        assert (tw2["author"], tw2["text"], tw2["created_at"]) == (
            "alice", "Bridge partly collapsed", "2017-09-10T12:00:00.000Z")
        tw4 = post_row(store, "field_posts", "tw-4")
        assert tw4["author"] == "bob"
        assert tw4["text"] == "Text of post four"  # the .txt's text, the .json's metadata

        # Item ids are <source>:<post id>:<n>.
        for post_id in ("p1", "tw-2", "sub/deeper/p3", "sub/p5", "tw-4", "t-9"):
            assert [i.uid for i in items(store, "field_posts", post_id)] == [
                f"field_posts:{post_id}:0"]

        media = media_rows(store, "field_posts", "tw-2")
        assert len(media) == 1
        assert media[0]["declared_path"] == "p2.jpg"
        assert media[0]["status"] == "ok"
        assert media[0]["sha256"] == sha256(src / "p2.jpg")
        assert (media[0]["width"], media[0]["height"]) == (24, 16)
        assert media_rows(store, "field_posts", "sub/deeper/p3")[0]["declared_path"] == \
            "sub/deeper/p3.png"

        # The text-only post has one item without media.
        (text_item,) = items(store, "field_posts", "t-9")
        assert text_item.media is None
        assert post_row(store, "field_posts", "t-9")["text"] == "No picture, just words"

        # Labels from sidecars are in the journal as imported labels.
        (item2,) = items(store, "field_posts", "tw-2")
        current = store.current_label(item2.id, "damage")
        assert current is not None
        assert (current.label, current.source, current.annotator) == (
            "mild_damage", "import", "field_posts")
        assert [(r["label"], r["source"]) for r in store.journal(item2.id)] == [
            ("mild_damage", "import")]
        assert label_of(store, text_item.id, "damage") == "little_or_no_damage"
        (item1,) = items(store, "field_posts", "p1")
        assert store.current_label(item1.id, "damage") is None


def _folder_of_data_files(root: Path) -> Path:
    """A folder as a collector leaves it: two data files, plus one image post."""
    root.mkdir(parents=True)
    write_csv(root / "monday.csv", ["id", "text"], [["m1", "road closed"], ["m2", "shelter"]])
    (root / "tuesday.jsonl").write_text(
        json.dumps({"id": "t1", "text": "bridge down"}) + "\n"
        + json.dumps({"id": "t2", "text": "water rising"}) + "\n", encoding="utf-8")
    make_image(root / "photo.png")
    (root / "photo.txt").write_text("a photo post", encoding="utf-8")
    return root


def test_a_folder_of_data_files_imports_each_of_them(proj, tmp_path):
    folder = _folder_of_data_files(tmp_path / "collected")
    job = run_import(proj, [folder])
    assert errors(job) == []
    assert job.report.posts_added == 5
    with proj.open_store() as store:
        assert post_row(store, "collected", "t2")["text"] == "water rising"
        assert post_row(store, "collected", "m1")["text"] == "road closed"
        assert post_row(store, "collected", "photo")["text"] == "a photo post"
    again = run_import(proj, [folder])  # idempotent, as any import
    assert again.report.posts_added == 0


def test_a_zip_of_several_data_files_imports_each_of_them(proj, tmp_path):
    folder = _folder_of_data_files(tmp_path / "collected")
    archive = zip_folder(folder, tmp_path / "collected.zip")
    job = run_import(proj, [archive])
    assert errors(job) == []
    assert job.report.posts_added == 5


def test_folder_images_sharing_a_sidecar_id_become_one_post(proj, tmp_path):
    src = tmp_path / "shared"
    for name, seed in (("a.jpg", 1), ("b.jpg", 2)):
        make_image(src / name, seed)
        (src / name).with_suffix(".json").write_text(
            json.dumps({"id": "tw-77", "text": "Two views of the dam"}), "utf-8")
    job = run_import(proj, [src])
    assert errors(job) == []
    assert job.report.posts_added == 1
    with proj.open_store() as store:
        assert [i.uid for i in items(store, "shared", "tw-77")] == [
            "shared:tw-77:0", "shared:tw-77:1"]
        assert [m["declared_path"] for m in media_rows(store, "shared", "tw-77")] == [
            "a.jpg", "b.jpg"]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_folder_with_manifest(proj, tmp_path, kind):
    src = build_manifest_folder(tmp_path / f"manifest_{kind}", kind)
    # A stray image the manifest does not list is not a post of a manifest folder.
    make_image(src / "img" / "unlisted.jpg", 39)
    job = run_import(proj, [src])
    assert errors(job) == []
    name = src.name
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert store.counts()["posts"] == 2
        assert store.counts()["media"] == {"ok": 2}
        assert post_row(store, name, "m1")["text"] == "Manifest post one"
        (m1,) = media_rows(store, name, "m1")
        assert m1["uid"] == f"{name}:m1:0"
        assert m1["declared_path"] == "img/m1.jpg"
        assert Path(m1["path"]) == (src / "img" / "m1.jpg").resolve()
        assert m1["sha256"] == sha256(src / "img" / "m1.jpg")
        (item,) = items(store, name, "m1")
        assert label_of(store, item.id, "damage") == "severe_damage"
        (item2,) = items(store, name, "m2")
        assert label_of(store, item2.id, "damage") is None


# --------------------------------------------------------------------------- tables


def test_csv_default_columns_and_multi_image_posts(proj, tmp_path):
    table = build_csv_source(tmp_path / "csvsrc")
    job = run_import(proj, [table])
    assert errors(job) == []
    report = job.report
    assert report.posts_added == 4
    assert report.items_added == 6
    assert report.media_added == {"ok": 5}
    src = "posts_table"
    with proj.open_store() as store:
        row = post_row(store, src, "1")
        assert (row["text"], row["created_at"], row["author"]) == (
            "Roof torn off", "2017-09-10T00:00:00.000Z", "ann")
        (one,) = items(store, src, "1")
        assert one.uid == "posts_table:1:0"
        assert label_of(store, one.id, "damage") == "severe_damage"
        assert split_of(store, one.id, "damage") == "train"

        # a.jpg|b.jpg in one cell: one post, two items, both labelled and split.
        two = items(store, src, "2")
        assert [i.uid for i in two] == ["posts_table:2:0", "posts_table:2:1"]
        assert [i.declared_path for i in two] == ["imgs/a.jpg", "imgs/b.jpg"]
        assert [label_of(store, i.id, "damage") for i in two] == ["mild_damage"] * 2
        assert [split_of(store, i.id, "damage") for i in two] == ["dev"] * 2

        # Two rows with the same id and text: one post, two items.
        three = items(store, src, "3")
        assert [i.declared_path for i in three] == ["imgs/c.jpg", "imgs/d.jpg"]
        assert [i.n for i in three] == [0, 1]
        assert [split_of(store, i.id, "damage") for i in three] == ["test"] * 2
        assert store.conn.execute(
            "SELECT COUNT(*) FROM posts WHERE source = ? AND post_id = '3'", [src]
        ).fetchone()[0] == 1

        (four,) = items(store, src, "4")
        assert four.media is None
        assert label_of(store, four.id, "damage") is None
        assert split_of(store, four.id, "damage") is None
        assert all(m["status"] == "ok" and m["sha256"]
                   for pid in ("1", "2", "3") for m in media_rows(store, src, pid))


def test_csv_with_custom_column_mapping(proj, tmp_path):
    src = tmp_path / "mapped"
    make_image(src / "k1.jpg", 51)
    # Decoys: an 'id' and a 'text' column that the mapping must override.
    table = write_csv(src / "export.csv", ["id", "tweet", "text", "body", "image"], [
        ["row-1", "900", "decoy text", "Real body one", "k1.jpg"],
        ["row-2", "901", "decoy text", "Real body two", ""],
    ])
    job = run_import(proj, [table], mapping={"id": "tweet", "text": "body"})
    assert errors(job) == []
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert store.find_post("export", "row-1") is None
        assert post_row(store, "export", "900")["text"] == "Real body one"
        assert post_row(store, "export", "901")["text"] == "Real body two"
        (media,) = media_rows(store, "export", "900")
        assert media["uid"] == "export:900:0"
        assert media["status"] == "ok"


def test_csv_mapping_to_a_missing_column_is_reported(proj, tmp_path):
    table = write_csv(tmp_path / "t.csv", ["id", "text"], [["1", "hello"]])
    job = run_import(proj, [table], mapping={"id": "tweet"})
    (problem,) = job.report.problems
    assert problem.where.file == str(table)
    assert "tweet" in problem.message and "no such column" in problem.message
    assert job.report.posts_added == 0


def test_csv_task_split_column_is_found_whatever_its_case(proj, tmp_path):
    # Label columns match without regard to case ("Damage"); their split column must too,
    # or the split is dropped without a word.
    table = write_csv(tmp_path / "sheet.csv", ["ID", "Text", "Damage", "Damage_Split"],
                      [["1", "Roof gone", "Severe damage", "Dev"]])
    job = run_import(proj, [table])
    assert errors(job) == []
    with proj.open_store() as store:
        (item,) = items(store, "sheet", "1")
        assert label_of(store, item.id, "damage") == "severe_damage"
        assert split_of(store, item.id, "damage") == "dev"


def test_jsonl_with_image_list(proj, tmp_path):
    feed = build_jsonl_source(tmp_path / "jsonsrc")
    job = run_import(proj, [feed])
    assert errors(job) == []
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        ten = items(store, "feed", "10")
        assert [i.uid for i in ten] == ["feed:10:0", "feed:10:1"]
        assert [i.declared_path for i in ten] == ["x.jpg", "y.jpg"]
        assert [label_of(store, i.id, "damage") for i in ten] == ["severe_damage"] * 2
        assert post_row(store, "feed", "10")["author"] == "eve"
        (eleven,) = items(store, "feed", "11")
        assert eleven.media is None
        assert post_row(store, "feed", "11")["text"] == "No image"


# --------------------------------------------------------------------------- CrisisMMD




def test_crisismmd_merges_files_into_posts_with_per_task_splits(proj, tmp_path):
    root = build_crisismmd(tmp_path / "cmmd")
    job = run_import(proj, crisismmd_files(root))
    report = job.report
    # No error, and the only warnings are the summaries of images left missing.
    assert errors(job) == []
    warnings = [p for p in report.problems if p.severity == "warning"]
    assert warnings and all("marked missing" in p.message for p in warnings)
    assert not any("differs" in p.message for p in report.problems)
    assert report.posts_added == 2
    assert report.items_added == 3
    with proj.open_store() as store:
        counts = store.counts()
        assert counts["posts"] == 2 and counts["items"] == 3
        assert counts["media"] == {"missing": 3}
        assert set(counts["sources"]) == {"crisismmd"}

        # The quoted and the plain spelling are one text.
        t100 = post_row(store, "crisismmd", "100")
        assert t100["text"] == 'He said "hi"'
        assert (t100["event"], t100["platform"]) == ("hurricane_irma", "twitter")

        (i100,) = items(store, "crisismmd", "100")
        assert i100.uid == "crisismmd:100:0"
        # One item, train for one task and dev for the other.
        assert label_of(store, i100.id, "informative") == "informative"
        assert split_of(store, i100.id, "informative") == "train"
        assert label_of(store, i100.id, "damage") == "severe_damage"
        assert split_of(store, i100.id, "damage") == "dev"

        i200 = items(store, "crisismmd", "200")
        assert [i.uid for i in i200] == ["crisismmd:200:0", "crisismmd:200:1"]
        assert store.conn.execute(
            "SELECT external_id FROM items WHERE id = ?", [i200[1].id]).fetchone()[0] == "200_1"
        assert [label_of(store, i.id, "informative") for i in i200] == [
            "not_informative", "informative"]
        # Humanitarian merge: injured_or_dead_people -> affected_individuals.
        assert label_of(store, i200[0].id, "humanitarian") == "affected_individuals"
        assert split_of(store, i200[0].id, "humanitarian") == "train"
        assert label_of(store, i200[1].id, "humanitarian") is None

        # Without --images-root every image is missing, with the reason.
        media = media_rows(store, "crisismmd", "200")
        assert [m["status"] for m in media] == ["missing", "missing"]
        assert all("images-root" in m["reason"] for m in media)
        assert all(m["path"] is None and m["sha256"] is None for m in media)
        assert media[1]["declared_path"] == cmmd_image("200_1")


def test_crisismmd_folder_is_detected_and_imported(proj, tmp_path):
    root = build_crisismmd(tmp_path / "cmmd")
    job = run_import(proj, [root])
    assert errors(job) == []
    assert job.report.sources[0]["format"] == "crisismmd"
    assert job.report.posts_added == 2 and job.report.items_added == 3


def test_crisismmd_images_attach_on_reimport_with_images_root(proj, tmp_path):
    root = build_crisismmd(tmp_path / "cmmd")
    files = crisismmd_files(root)
    run_import(proj, files)
    images_root = tmp_path / "CrisisMMD_v2.0"
    images = build_crisismmd_images(images_root)

    job = run_import(proj, files, images_root=images_root)
    assert errors(job) == []
    assert job.report.media_attached == 3
    assert job.report.posts_added == 0 and job.report.items_added == 0
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 3}
        media = media_rows(store, "crisismmd", "100") + media_rows(store, "crisismmd", "200")
        assert [m["uid"] for m in media] == [
            "crisismmd:100:0", "crisismmd:200:0", "crisismmd:200:1"]
        for row, image in zip(media, images, strict=True):
            assert row["status"] == "ok"
            assert row["reason"] is None
            assert row["sha256"] == sha256(image)
            assert Path(row["path"]) == image.resolve()
            assert (row["width"], row["height"]) == (24, 16)
        # Labels and splits were kept, not duplicated.
        (i100,) = items(store, "crisismmd", "100")
        assert sorted(r["label"] for r in store.journal(i100.id)) == [
            "informative", "severe_damage"]

    # A third import finds nothing more to attach.
    again = run_import(proj, files, images_root=images_root)
    assert again.report.media_attached == 0


# --------------------------------------------------------------------------- archives


def test_zip_of_a_folder_of_posts(proj, tmp_path):
    folder = build_posts_folder(tmp_path / "field_posts")
    archive = zip_folder(folder, tmp_path / "field_zip.zip", top="field_posts")
    job = run_import(proj, [archive])
    assert errors(job) == []
    assert job.report.posts_added == 6
    assert job.report.media_added == {"ok": 5}
    media_root = proj.root / "media" / "field_zip"
    assert (media_root / "field_posts" / "sub" / "deeper" / "p3.png").is_file()
    with proj.open_store() as store:
        assert store.counts()["media"] == {"ok": 5}
        assert post_row(store, "field_zip", "tw-4")["text"] == "Text of post four"
        assert post_row(store, "field_zip", "p1")["text"] == "Flooded street near the market"
        (item,) = items(store, "field_zip", "tw-2")
        assert label_of(store, item.id, "damage") == "mild_damage"
        paths = [Path(r[0]) for r in store.conn.execute("SELECT path FROM media")]
        assert len(paths) == 5
        for path in paths:
            assert path.is_file()
            assert media_root.resolve() in path.parents


def test_zip_of_a_flat_folder_with_one_json_sidecar(proj, tmp_path):
    """A lone ``.json`` at the top of an archive next to its image is a sidecar."""
    folder = tmp_path / "flat"
    make_image(folder / "a.jpg", 1)
    (folder / "a.json").write_text(json.dumps({"id": "tw-a", "text": "Sidecar text"},
                                              indent=2), "utf-8")
    make_image(folder / "b.jpg", 2)
    (folder / "b.txt").write_text("Plain text", "utf-8")
    archive = zip_folder(folder, tmp_path / "flat.zip")
    job = run_import(proj, [archive])
    assert errors(job) == []
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert post_row(store, "flat", "tw-a")["text"] == "Sidecar text"
        assert post_row(store, "flat", "b")["text"] == "Plain text"
        assert store.counts()["media"] == {"ok": 2}


def test_zip_of_a_csv_with_images(proj, tmp_path):
    table = build_csv_source(tmp_path / "csvsrc")
    archive = tmp_path / "table_zip.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(table, table.name)
        for image in sorted((table.parent / "imgs").iterdir()):
            zf.write(image, f"imgs/{image.name}")
    job = run_import(proj, [archive])
    assert errors(job) == []
    assert job.report.posts_added == 4
    assert job.report.media_added == {"ok": 5}
    media_root = proj.root / "media" / "table_zip"
    assert (media_root / "posts_table.csv").is_file()
    assert (media_root / "imgs" / "a.jpg").is_file()
    with proj.open_store() as store:
        two = media_rows(store, "table_zip", "2")
        assert [m["declared_path"] for m in two] == ["imgs/a.jpg", "imgs/b.jpg"]
        for row in two:
            assert row["status"] == "ok"
            assert Path(row["path"]) == (media_root / row["declared_path"]).resolve()
            assert row["sha256"] == sha256(table.parent / row["declared_path"])


