"""Each importer end to end: folders, manifests, CSV, JSONL, CrisisMMD, zip archives,
idempotent re-imports and cancelling. Fixtures are built here in ``tmp_path``."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.importers.job import BATCH
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store

# --------------------------------------------------------------------------- helpers


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project.open(tmp_path / "proj", create=True)


def make_image(path: Path, seed: int = 0, size: tuple[int, int] = (24, 16)) -> Path:
    """A small real image (JPEG or PNG by suffix); ``seed`` makes its bytes unique."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    img.putpixel((seed % size[0], 0), (255 - seed % 256, 0, 0))
    img.save(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_import(project: Project, paths: list[Path], **options) -> ImportJob:
    job = ImportJob(project, [Path(p) for p in paths], ImportOptions(**options))
    list(job.run())
    return job


def post_row(store: Store, source: str, post_id: str) -> dict:
    row = store.conn.execute(
        "SELECT * FROM posts WHERE source = ? AND post_id = ?", [source, post_id]).fetchone()
    assert row is not None, f"post {source}:{post_id} not in the store"
    return dict(row)


def media_rows(store: Store, source: str, post_id: str) -> list[dict]:
    """The media of a post with its item uid, in media order."""
    return [dict(r) for r in store.conn.execute(
        "SELECT m.*, i.uid FROM media m JOIN posts p ON p.id = m.post"
        " JOIN items i ON i.media = m.id WHERE p.source = ? AND p.post_id = ? ORDER BY m.n",
        [source, post_id])]


def items(store: Store, source: str, post_id: str):
    post = store.find_post(source, post_id)
    assert post is not None, f"post {source}:{post_id} not in the store"
    return store.items_of_post(post.id)


def label_of(store: Store, item_pk: int, task: str) -> str | None:
    current = store.current_label(item_pk, task)
    return current.label if current else None


def split_of(store: Store, item_pk: int, task: str) -> str | None:
    row = store.conn.execute("SELECT split FROM splits WHERE item = ? AND task = ?",
                             [item_pk, task]).fetchone()
    return row[0] if row else None


def journal_rows(store: Store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]


def errors(job: ImportJob) -> list[str]:
    return [str(p) for p in job.report.problems if p.severity == "error"]


def write_csv(path: Path, header: list[str], rows: list[list], **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, **kw)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, objects: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), "utf-8")
    return path


# --------------------------------------------------------------------------- fixtures


def build_posts_folder(root: Path) -> Path:
    """A folder of posts: sidecars of both kinds, nesting, a text-only post."""
    make_image(root / "p1.jpg", 1)
    (root / "p1.txt").write_text("Flooded street near the market\n", "utf-8")
    make_image(root / "p2.jpg", 2)
    (root / "p2.json").write_text(json.dumps({
        "id": "tw-2", "author": "alice", "text": "Bridge partly collapsed",
        "created_at": "2017-09-10T12:00:00Z", "labels": {"damage": "mild_damage"}}), "utf-8")
    make_image(root / "sub" / "deeper" / "p3.png", 3)
    (root / "sub" / "deeper" / "p3.txt").write_text("Nested post", "utf-8")
    make_image(root / "sub" / "p5.jpg", 5)  # no sidecar at all
    # Both sidecars: the .json carries metadata, the .txt the text.
    make_image(root / "p4.jpg", 4)
    (root / "p4.txt").write_text("Text of post four", "utf-8")
    (root / "p4.json").write_text(json.dumps({"id": "tw-4", "author": "bob"}), "utf-8")
    # Sidecar only: a text-only post.
    (root / "only_words.json").write_text(json.dumps({
        "id": "t-9", "text": "No picture, just words",
        "labels": {"damage": "little_or_no_damage"}}), "utf-8")
    return root


def build_csv_source(root: Path) -> Path:
    """A CSV with default column names, multi-image posts both ways, a text-only row."""
    for name, seed in (("r1.jpg", 11), ("a.jpg", 12), ("b.jpg", 13), ("c.jpg", 14),
                       ("d.jpg", 15)):
        make_image(root / "imgs" / name, seed)
    return write_csv(root / "posts_table.csv",
                     ["id", "text", "image", "created_at", "author", "damage", "split"], [
                         ["1", "Roof torn off", "imgs/r1.jpg", "2017-09-10", "ann",
                          "severe_damage", "train"],
                         ["2", "Two photos, one cell", "imgs/a.jpg|imgs/b.jpg", "2017-09-11",
                          "ben", "mild_damage", "dev"],
                         ["3", "Two photos, two rows", "imgs/c.jpg", "2017-09-12", "cat",
                          "little_or_no_damage", "test"],
                         ["3", "Two photos, two rows", "imgs/d.jpg", "2017-09-12", "cat",
                          "little_or_no_damage", "test"],
                         ["4", "Text only", "", "2017-09-13", "dan", "", ""],
                     ])


def build_jsonl_source(root: Path) -> Path:
    make_image(root / "x.jpg", 21)
    make_image(root / "y.jpg", 22)
    return write_jsonl(root / "feed.jsonl", [
        {"id": 10, "text": "Two images in a list", "image": ["x.jpg", "y.jpg"],
         "author": "eve", "damage": "severe_damage"},
        {"id": 11, "text": "No image"},
    ])


def build_manifest_folder(root: Path, kind: str) -> Path:
    make_image(root / "img" / "m1.jpg", 31)
    make_image(root / "img" / "m2.jpg", 32)
    if kind == "csv":
        write_csv(root / "posts.csv", ["id", "text", "image", "damage"], [
            ["m1", "Manifest post one", "img/m1.jpg", "severe_damage"],
            ["m2", "Manifest post two", "img/m2.jpg", ""],
        ])
    else:
        write_jsonl(root / "posts.jsonl", [
            {"id": "m1", "text": "Manifest post one", "image": "img/m1.jpg",
             "damage": "severe_damage"},
            {"id": "m2", "text": "Manifest post two", "image": "img/m2.jpg"},
        ])
    return root


CMMD_FULL = ["event_name", "tweet_id", "image_id", "tweet_text", "image", "label",
             "label_text", "label_image", "label_text_image"]
CMMD_SHORT = ["event_name", "tweet_id", "image_id", "tweet_text", "image", "label"]


def cmmd_image(tweet_image: str) -> str:
    return f"data_image/hurricane_irma/10_9_2017/{tweet_image}.jpg"


def build_crisismmd(root: Path) -> Path:
    """Three split files sharing tweets, written the way CrisisMMD's own files are."""
    root.mkdir(parents=True, exist_ok=True)
    informative = [
        "\t".join(CMMD_FULL),
        # The CSV way: quoted, with doubled quotes inside.
        "\t".join(["hurricane_irma", "100", "100_0", '"He said ""hi"""', cmmd_image("100_0"),
                   "informative", "informative", "informative", "Positive"]),
        "\t".join(["hurricane_irma", "200", "200_0", "Trees down on 5th street",
                   cmmd_image("200_0"), "not_informative", "not_informative",
                   "not_informative", "Negative"]),
        "\t".join(["hurricane_irma", "200", "200_1", "Trees down on 5th street",
                   cmmd_image("200_1"), "informative", "informative", "informative",
                   "Positive"]),
    ]
    (root / "task_informative_text_img_train.tsv").write_text(
        "\n".join(informative) + "\n", "utf-8")
    damage = [
        "\t".join(CMMD_SHORT),
        # The same tweet, its quotes written plainly.
        "\t".join(["hurricane_irma", "100", "100_0", 'He said "hi"', cmmd_image("100_0"),
                   "severe_damage"]),
    ]
    (root / "task_damage_text_img_dev.tsv").write_text("\n".join(damage) + "\n", "utf-8")
    humanitarian = [
        "\t".join(CMMD_FULL),
        "\t".join(["hurricane_irma", "200", "200_0", "Trees down on 5th street",
                   cmmd_image("200_0"), "injured_or_dead_people", "injured_or_dead_people",
                   "injured_or_dead_people", "Positive"]),
    ]
    (root / "task_humanitarian_text_img_train.tsv").write_text(
        "\n".join(humanitarian) + "\n", "utf-8")
    return root


def build_crisismmd_images(images_root: Path) -> list[Path]:
    return [make_image(images_root / cmmd_image(name), 40 + i)
            for i, name in enumerate(("100_0", "200_0", "200_1"))]


def zip_folder(folder: Path, archive: Path, top: str | None = None) -> Path:
    """Zip every file under ``folder``, optionally inside one top folder ``top``."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{rel}" if top else rel)
    return archive


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
            "alice", "Bridge partly collapsed", "2017-09-10T12:00:00Z")
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
            "Roof torn off", "2017-09-10", "ann")
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


def crisismmd_files(root: Path) -> list[Path]:
    return sorted(root.glob("*.tsv"))


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


# --------------------------------------------------------------------------- idempotency


def _src_folder(tmp: Path) -> tuple[list[Path], dict]:
    return [build_posts_folder(tmp / "field_posts")], {}


def _src_manifest_csv(tmp: Path) -> tuple[list[Path], dict]:
    return [build_manifest_folder(tmp / "mcsv", "csv")], {}


def _src_manifest_jsonl(tmp: Path) -> tuple[list[Path], dict]:
    return [build_manifest_folder(tmp / "mjsonl", "jsonl")], {}


def _src_csv(tmp: Path) -> tuple[list[Path], dict]:
    return [build_csv_source(tmp / "csvsrc")], {}


def _src_jsonl(tmp: Path) -> tuple[list[Path], dict]:
    return [build_jsonl_source(tmp / "jsonsrc")], {}


def _src_crisismmd(tmp: Path) -> tuple[list[Path], dict]:
    return crisismmd_files(build_crisismmd(tmp / "cmmd")), {}


def _src_crisismmd_images(tmp: Path) -> tuple[list[Path], dict]:
    images_root = tmp / "images"
    build_crisismmd_images(images_root)
    return crisismmd_files(build_crisismmd(tmp / "cmmd")), {"images_root": images_root}


def _src_zip_folder(tmp: Path) -> tuple[list[Path], dict]:
    folder = build_posts_folder(tmp / "field_posts")
    return [zip_folder(folder, tmp / "field_zip.zip", top="field_posts")], {}


def _src_zip_csv(tmp: Path) -> tuple[list[Path], dict]:
    table = build_csv_source(tmp / "csvsrc")
    return [zip_folder(table.parent, tmp / "table_zip.zip")], {}


SOURCES: dict[str, Callable[[Path], tuple[list[Path], dict]]] = {
    "folder": _src_folder, "manifest_csv": _src_manifest_csv,
    "manifest_jsonl": _src_manifest_jsonl, "csv": _src_csv, "jsonl": _src_jsonl,
    "crisismmd": _src_crisismmd, "crisismmd_images": _src_crisismmd_images,
    "zip_folder": _src_zip_folder, "zip_csv": _src_zip_csv,
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_importing_twice_adds_nothing(proj, tmp_path, kind):
    paths, options = SOURCES[kind](tmp_path / "src")
    first = run_import(proj, paths, **options)
    assert first.report.posts_added > 0
    with proj.open_store() as store:
        counts, journal = store.counts(), journal_rows(store)
        media = store.conn.execute(
            "SELECT id, post, n, path, sha256, status FROM media ORDER BY id").fetchall()
        splits = store.conn.execute("SELECT COUNT(*) FROM splits").fetchone()[0]

    second = run_import(proj, paths, **options)
    report = second.report
    assert (report.posts_added, report.items_added, report.labels_added,
            report.splits_added, report.media_attached) == (0, 0, 0, 0, 0)
    assert report.media_added == {}
    assert report.records == first.report.records
    assert not any("differs" in p.message for p in report.problems)
    with proj.open_store() as store:
        assert store.counts() == counts
        assert journal_rows(store) == journal
        assert store.conn.execute(
            "SELECT id, post, n, path, sha256, status FROM media ORDER BY id"
        ).fetchall() == media
        assert store.conn.execute("SELECT COUNT(*) FROM splits").fetchone()[0] == splits


# --------------------------------------------------------------------------- cancelling


def test_cancelling_keeps_committed_batches_and_a_rerun_completes(proj, tmp_path):
    total = 2 * BATCH + 88
    table = write_csv(tmp_path / "many.csv", ["id", "text", "damage"],
                      [[str(i), f"post number {i}", "mild_damage"] for i in range(total)])
    job = ImportJob(proj, [table], ImportOptions())
    run = job.run()
    progress = next(run)
    assert isinstance(progress, Progress)
    assert (progress.done, progress.total) == (BATCH, total)
    run.close()

    assert job.report.cancelled is True
    assert job.report.posts_added == BATCH
    assert job.report_path is not None and job.report_path.is_file()
    assert json.loads(job.report_path.read_text("utf-8"))["cancelled"] is True
    with proj.open_store() as store:
        assert store.counts()["posts"] == BATCH
        # The first batch, complete with its items and labels.
        for i in (0, BATCH - 1):
            (item,) = items(store, "many", str(i))
            assert label_of(store, item.id, "damage") == "mild_damage"
        assert store.find_post("many", str(BATCH)) is None
        (state, done, job_total) = store.conn.execute(
            "SELECT state, done, total FROM jobs ORDER BY id").fetchone()
        assert (state, done, job_total) == ("cancelled", BATCH, total)

    rerun = run_import(proj, [table])
    assert rerun.report.cancelled is False
    assert rerun.report.posts_added == total - BATCH
    assert rerun.report.labels_added == total - BATCH
    with proj.open_store() as store:
        assert store.counts()["posts"] == total
        assert store.counts()["items"] == total
        assert journal_rows(store) == total
        states = [r[0] for r in store.conn.execute("SELECT state FROM jobs ORDER BY id")]
        assert states == ["cancelled", "done"]


def test_progress_reports_each_batch(proj, tmp_path):
    total = BATCH + 10
    table = write_csv(tmp_path / "some.csv", ["id", "text"],
                      [[str(i), f"post {i}"] for i in range(total)])
    job = ImportJob(proj, [table], ImportOptions())
    steps = [(p.done, p.total) for p in job.run()]
    assert steps == [(BATCH, total), (total, total)]
    with proj.open_store() as store:
        assert store.conn.execute("SELECT state FROM jobs").fetchone()[0] == "done"
