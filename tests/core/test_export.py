"""Exports: formats, round trips through the importers, options, atomic writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image
from test_scale_hunt import build  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.exporters import Exporter, hash_author
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.store import LabelChange, Prediction, Store, queries

POSTS = [
    # id, text (with a quote, a tab-free comma and non-ASCII), author, image(s), damage, split
    ("1", 'Bridge "collapsed", road closed — Río Grande', "@alice", "a.jpg", "severe_damage",
     "train"),
    ("2", "Volunteers hand out water", "@bob", "b.jpg|c.jpg", "little_or_no_damage", "dev"),
    ("3", "Thoughts and prayers", "@alice", "", "", ""),
]


def _source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        Image.new("RGB", (32, 24), (40 * i, 80, 120)).save(folder / name)
    with (folder / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "author", "image", "damage", "split"])
        writer.writerows(POSTS)
    return folder / "posts.csv"


def _import(project: Project, *sources: Path, **options) -> None:
    job = ImportJob(project, list(sources), ImportOptions(**options))
    list(job.run())
    assert job.report.errors == 0, job.report.summary()


def _labels(store: Store, task: str = "damage") -> dict[tuple[str, int], str]:
    """Current labels keyed by (post id, media index), comparable across projects."""
    out = {}
    for item in store.export_items([task]):
        if item["tasks"][task]["label"]:
            out[(item["post_id"], item["n"])] = item["tasks"][task]["label"]
    return out


@pytest.fixture
def labelled(project: Project, tmp_path: Path) -> Project:
    """A project with imported labels, one human correction and one prediction."""
    _import(project, _source(tmp_path))
    with project.open_store() as store:
        item = store.resolve_item("posts:2:1")
        store.add_labels([LabelChange(item.id, "damage", "mild_damage")], annotator="ana")
        version = store.add_model_version("damage", "damage-v1", "models/damage-v1")
        store.add_predictions(version, [Prediction(item.id, "damage", {
            "severe_damage": 0.1, "mild_damage": 0.7, "little_or_no_damage": 0.2})])
    return project


def test_csv_round_trip_keeps_every_label(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "out" / "labels.csv"
    with labelled.open_store() as store:
        Exporter(store).write(out, "csv")
        before = _labels(store)
    assert before == {("1", 0): "severe_damage", ("2", 0): "little_or_no_damage",
                      ("2", 1): "mild_damage"}
    again = Project.open(tmp_path / "again", create=True)
    _import(again, out, images_root=tmp_path / "src")
    with again.open_store() as store:
        assert _labels(store) == before
        assert store.counts()["items"] == 4
        post = store.find_post("labels", "1")
        assert post is not None and post.text == POSTS[0][1]


def test_csv_has_prediction_confidence_and_label_source(labelled: Project,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    with labelled.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "csv")
    rows = {r["item_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    corrected = rows["posts:2:1"]
    assert corrected["damage"] == "mild_damage"
    assert corrected["damage_label_source"] == "human"
    assert corrected["damage_annotator"] == "ana"
    assert corrected["damage_prediction"] == "mild_damage"
    assert float(corrected["damage_confidence"]) == pytest.approx(0.7)
    assert corrected["damage_model_version"] == "damage-v1"
    assert rows["posts:1:0"]["damage_label_source"] == "import"
    assert rows["posts:1:0"]["damage_split"] == "train"
    assert rows["posts:1:0"]["damage_prediction"] == ""
    assert "informative" not in corrected  # only the task asked for


def test_jsonl_export_holds_tasks_per_item(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    with labelled.open_store() as store:
        Exporter(store).write(out, "jsonl")
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(records) == 4
    by_id = {r["item_id"]: r for r in records}
    assert by_id["posts:2:1"]["tasks"]["damage"]["label"] == "mild_damage"
    assert by_id["posts:2:1"]["tasks"]["damage"]["confidence"] == pytest.approx(0.7)
    assert by_id["posts:3:0"]["tasks"]["damage"]["label"] is None
    assert set(by_id["posts:1:0"]["tasks"]) == {"damage", "humanitarian", "informative"}
    assert by_id["posts:1:0"]["text"] == POSTS[0][1]


def test_jsonl_round_trip_keeps_every_label_and_split(labelled: Project,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    with labelled.open_store() as store:
        Exporter(store).write(out, "jsonl")
        before = _labels(store)
    again = Project.open(tmp_path / "again", create=True)
    _import(again, out, images_root=tmp_path / "src")
    with again.open_store() as store:
        assert _labels(store) == before
        assert store.counts()["splits"]["damage"] == {"dev": 2, "train": 1}
        assert store.counts()["media"] == {"ok": 3}


def test_crisismmd_round_trip(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "mmd"
    with labelled.open_store() as store:
        files = Exporter(store).write(out, "crisismmd")
        before = _labels(store)
    assert sorted(f.name for f in files) == [
        "task_damage_text_img.tsv", "task_humanitarian_text_img.tsv",
        "task_informative_text_img.tsv"]
    rows = list(csv.DictReader((out / "task_damage_text_img.tsv").open(encoding="utf-8"),
                               dialect="excel-tab"))
    assert {r["image_id"] for r in rows} == {"1_0", "2_0", "2_1"}
    again = Project.open(tmp_path / "again", create=True)
    _import(again, out / "task_damage_text_img.tsv")
    with again.open_store() as store:
        assert _labels(store) == before
        assert store.counts()["splits"]["damage"] == {"dev": 2, "train": 1}
        post = store.find_post("crisismmd", "1")
        assert post is not None and post.text == POSTS[0][1]


def test_crisismmd_export_keeps_an_image_id_of_another_tweet(project: Project,
                                                             tmp_path: Path) -> None:
    # CrisisMMD lists some images under a tweet other than the one in their id (a tweet
    # quoting another's picture): the export must give the image id it was imported with.
    tsv = tmp_path / "task_damage_text_img_train.tsv"
    header = ["event_name", "tweet_id", "image_id", "tweet_text", "image", "label",
              "label_text", "label_image", "label_text_image"]
    rows = [["harvey", "905", "901_0", "quoting a photo", "data_image/harvey/901_0.jpg",
             "severe_damage", "severe_damage", "severe_damage", "Positive"],
            ["harvey", "906", "906_0", "own photo", "data_image/harvey/906_0.jpg",
             "mild_damage", "mild_damage", "mild_damage", "Positive"]]
    tsv.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    _import(project, tsv)
    out = tmp_path / "damage.tsv"
    with project.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
    exported = list(csv.DictReader(out.open(encoding="utf-8"), dialect="excel-tab"))
    assert {(r["tweet_id"], r["image_id"]) for r in exported} == {("905", "901_0"),
                                                                 ("906", "906_0")}


def test_only_corrected_keeps_items_with_a_human_label(labelled: Project,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "corrected.csv"
    with labelled.open_store() as store:
        Exporter(store, only_corrected=True).write(out, "csv")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["item_id"] for r in rows] == ["posts:2:1"]


def test_only_corrected_crisismmd_files_hold_the_labels_corrected_in_their_task(
        labelled: Project, tmp_path: Path) -> None:
    with labelled.open_store() as store:
        other = store.resolve_item("posts:1:0")  # imported damage label, corrected elsewhere
        store.add_labels([LabelChange(other.id, "informative", "informative")],
                         annotator="ana")
        files = Exporter(store, tasks=["damage", "informative"],
                         only_corrected=True).write(tmp_path / "mmd", "crisismmd")
    rows = {f.name: list(csv.DictReader(f.open(encoding="utf-8"), dialect="excel-tab"))
            for f in files}
    assert [(r["image_id"], r["label_source"]) for r in
            rows["task_damage_text_img.tsv"]] == [("2_1", "human")]
    assert [(r["image_id"], r["label_source"]) for r in
            rows["task_informative_text_img.tsv"]] == [("1_0", "human")]


def test_hash_authors_is_salted_and_stable(labelled: Project, tmp_path: Path) -> None:
    out = tmp_path / "anon.csv"
    with labelled.open_store() as store:
        Exporter(store, hash_authors=True).write(out, "csv")
        salt = store.salt()
    rows = {r["post_id"]: r["author"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert "@alice" not in out.read_text("utf-8")
    assert rows["1"] == rows["3"] == hash_author("@alice", salt)
    assert rows["1"] != rows["2"]
    assert hash_author("@alice", "another salt") != rows["1"]


def test_a_failed_export_leaves_the_old_file_and_no_temp(labelled: Project, tmp_path: Path,
                                                         monkeypatch) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("previous export\n", encoding="utf-8")

    def broken(self, tasks, only_corrected=False):
        yield from ()
        raise OSError("disk full")

    monkeypatch.setattr(Store, "export_items", broken)
    with labelled.open_store() as store, pytest.raises(OSError, match="disk full"):
        Exporter(store).write(out, "csv")
    assert out.read_text("utf-8") == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".labels")] == []


def test_unknown_task_is_refused(labelled: Project) -> None:
    with labelled.open_store() as store, pytest.raises(ValueError, match="unknown task"):
        Exporter(store, tasks=["weather"])


def _import_texts(project: Project, tmp_path: Path, texts: list[str]) -> None:
    """Import text-only posts ``0``, ``1``, ... with these texts, each labelled for damage."""
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": t, "damage": "mild_damage",
                                          "split": "train"}) + "\n"
                              for i, t in enumerate(texts)), "utf-8")
    _import(project, source)


def _texts(store: Store) -> dict[str, str]:
    return {item["post_id"]: item["text"] for item in store.export_items(["damage"])}


def test_jsonl_round_trip_keeps_texts_with_unicode_line_separators(project: Project,
                                                                   tmp_path: Path) -> None:
    # U+2028, U+2029 and NEL end a line for str.splitlines(), not for JSON Lines; the
    # export writes them raw (ensure_ascii=False), so they must not split a record.
    _import_texts(project, tmp_path, ["line\u2028separator", "para\u2029graph",
                                      "next\x85line"])
    out = tmp_path / "labels.jsonl"
    with project.open_store() as store:
        Exporter(store).write(out, "jsonl")
        before = _texts(store)
    assert len(before) == 3
    again = Project.open(tmp_path / "again", create=True)
    _import(again, out)
    with again.open_store() as store:
        assert _texts(store) == before


def test_crisismmd_export_quotes_a_text_with_a_lone_carriage_return(project: Project,
                                                                    tmp_path: Path) -> None:
    _import_texts(project, tmp_path, ["old Mac\rline end", "plain"])
    out = tmp_path / "task_damage_text_img_train.tsv"
    with project.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
        before = _texts(store)
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline=""), dialect="excel-tab"))
    assert [r["tweet_text"] for r in rows] == ["old Mac\rline end", "plain"]
    again = Project.open(tmp_path / "again", create=True)
    _import(again, out)
    with again.open_store() as store:
        assert _texts(store) == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_keeps_the_media_index_of_each_item(project: Project, tmp_path: Path,
                                                       fmt: str) -> None:
    # CrisisMMD keeps some tweets only by a later image (<tweet id>_2): the item id and
    # the image id must survive an export and a re-import, not be renumbered from 0.
    tsv = tmp_path / "task_damage_text_img_train.tsv"
    tsv.write_text("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
                   "flood\t7\t7_2\tRiver over the bank\tdata_image/7_2.jpg\tsevere_damage\n"
                   "flood\t8\t8_0\tRoad closed\tdata_image/8_0.jpg\tmild_damage\n"
                   "flood\t8\t8_3\tRoad closed\tdata_image/8_3.jpg\tsevere_damage\n", "utf-8")
    list(ImportJob(project, [tsv], ImportOptions()).run())
    out = tmp_path / f"labels.{fmt}"
    with project.open_store() as store:
        Exporter(store).write(out, fmt)
        before = _labels(store)
    assert before == {("7", 2): "severe_damage", ("8", 0): "mild_damage",
                      ("8", 3): "severe_damage"}
    again = Project.open(tmp_path / "again", create=True)
    list(ImportJob(again, [out], ImportOptions()).run())
    with again.open_store() as store:
        assert _labels(store) == before
        assert store.resolve_item("7_2").uid == "labels:7:2"


@pytest.mark.parametrize("images_root", [False, True])
def test_crisismmd_round_trip_keeps_a_text_only_post_text_only(project: Project,
                                                               tmp_path: Path,
                                                               images_root: bool) -> None:
    # A text-only item is exported with an empty image cell: read back, that means no
    # image (no media row, no "unreadable: empty path" error), not a missing picture.
    _import_texts(project, tmp_path, ["Roads closed downtown"])
    out = tmp_path / "task_damage_text_img_train.tsv"
    with project.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "crisismmd")
        before = _labels(store)
    again = Project.open(tmp_path / "again", create=True)
    options = {"images_root": tmp_path} if images_root else {}
    _import(again, out, **options)
    with again.open_store() as store:
        assert _labels(store) == before == {("0", 0): "mild_damage"}
        assert store.counts()["media"] == {}
        assert store.item_images([store.resolve_item("0_0").id]) == {
            store.resolve_item("0_0").id: (None, None)}


def test_an_export_carries_the_active_versions_prediction(tmp_path: Path) -> None:
    """The prediction exported is the one the app shows: the task's active version's,
    even where a newer version (rejected at a retrain, or an image-only head the "image
    vs text" queue keeps) predicted the item too. A task without an active version
    exports its newest version's."""
    project = build(tmp_path / "p", n=9)
    with project.open_store() as store:
        old = next(v for v in store.model_versions("damage") if v["name"] == "old-damage")
        store.activate_model_version(old["id"])
        store.conn.execute("UPDATE model_versions SET active = 0 WHERE task = 'informative'")
        rows = list(store.export_items(["damage", "informative"]))
    damage = builtin_schemes()["damage"].classes
    informative = builtin_schemes()["informative"].classes
    for i, row in enumerate(rows, start=1):
        assert (row["tasks"]["damage"]["prediction"],
                row["tasks"]["damage"]["model_version"]) == (damage[i % 3], "old-damage")
        assert (row["tasks"]["informative"]["prediction"],
                row["tasks"]["informative"]["model_version"]) == \
            (informative[(i + 1) % 2], "new-informative")


def test_an_export_is_one_state_of_the_project_while_others_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are read a chunk at a time: a label another connection commits between two
    chunks must not reach the rows after it only (some rows before a colleague's work,
    some after). The export is read in one read transaction."""
    monkeypatch.setattr(queries, "EXPORT_CHUNK", 2)
    project = build(tmp_path / "p", n=9)
    colleague = project.open_store()
    real = queries.QueriesMixin._export_chunk
    calls = []

    def chunk(self, rows, tasks, only_corrected):
        if calls == [1]:  # after the first chunk was read
            colleague.add_labels([LabelChange(9, "damage", "severe_damage")],
                                 annotator="ben")
        calls.append(1)
        yield from real(self, rows, tasks, only_corrected)

    monkeypatch.setattr(queries.QueriesMixin, "_export_chunk", chunk)
    with project.open_store() as store:
        out = Exporter(store, tasks=["damage"]).write(tmp_path / "out.jsonl", "jsonl")[0]
    colleague.close()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(calls) == 5 and rows[-1]["item_id"] == "big:9:0"
    assert rows[-1]["tasks"]["damage"]["label"] is None  # committed after the export began
