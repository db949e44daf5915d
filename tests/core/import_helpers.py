"""Builders and look-ups shared by the import tests: small images, CSV/JSONL files,
folders of posts, CrisisMMD files and zips, all made in ``tmp_path``."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path

from PIL import Image

from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store

# --------------------------------------------------------------------------- helpers


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

def crisismmd_files(root: Path) -> list[Path]:
    return sorted(root.glob("*.tsv"))
