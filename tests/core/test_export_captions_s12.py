"""Exports say what each prediction read: the caption an item's text holds (with its
captioner and the model that wrote it) and, per task, whether the exported prediction
read the tweet with that caption, the tweet alone, another caption or no text.

A head reads the tweet followed by the item's newest unflagged caption (docs/captions.md);
before these columns an exported prediction could not be traced to the text it read.
Re-importing the export must not turn the caption into post text or a label.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image
from test_export import POSTS, _import, _source  # tests/core/ is on sys.path (pytest)

from crisisdesk.core.exporters import POST_COLUMNS, TASK_COLUMNS, Exporter
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import SchemeError, scheme_from_json
from crisisdesk.core.store import LabelChange, Prediction, Store, text_key

# Post 1 with one image, post 2 with two, post 3 text-only; damage labels.
TWEETS = {post[0]: post[1] for post in POSTS}
PROBS = {"severe_damage": 0.1, "mild_damage": 0.7, "little_or_no_damage": 0.2}


def _import_job(project: Project, path: Path, **options) -> ImportJob:
    job = ImportJob(project, [path], ImportOptions(**options))
    list(job.run())
    assert job.report.errors == 0, job.report.summary()
    return job


def _sha(store: Store, uid: str) -> str:
    return next(i["image_sha256"] for i in store.export_items(["damage"])
                if i["item_id"] == uid)


@pytest.fixture
def captioned(project: Project, tmp_path: Path) -> Project:
    """Items captioned in several ways, each with a damage prediction that read a
    different text:

    - posts:1:0  two captions (old-cap, then new-cap, the one in use); the prediction
      read the tweet with old-cap's caption;
    - posts:2:0  one caption; the prediction read the tweet with it;
    - posts:2:1  only a flagged caption (never used); the prediction read the tweet;
    - posts:3:0  text-only; a prediction from before inputs were kept (unknown).
    An image-only head of "informative" read no text of posts:2:0.
    """
    _import(project, _source(tmp_path))
    with project.open_store() as store:
        a, b, c = (_sha(store, uid) for uid in ("posts:1:0", "posts:2:0", "posts:2:1"))
        store.add_caption(a, TWEETS["1"], "old-cap", "v1", "A bridge over a river.",
                          model="old-model via cpu")
        store.add_caption(a, TWEETS["1"], "new-cap", "v1", "A collapsed bridge.",
                          model="new-model via cuda:0")
        store.add_caption(b, TWEETS["2"], "new-cap", "v1", "People carrying water bottles.",
                          model="new-model via cuda:0")
        store.add_caption(c, TWEETS["2"], "new-cap", "v1", "", flag="empty",
                          model="new-model via cuda:0")
        ids = {uid: store.resolve_item(uid).id
               for uid in ("posts:1:0", "posts:2:0", "posts:2:1", "posts:3:0")}
        version = store.add_model_version("damage", "damage-v1", "models/damage-v1")
        store.add_predictions(version, [
            Prediction(ids["posts:1:0"], "damage", PROBS,
                       f"{a}|{text_key(TWEETS['1'] + ' A bridge over a river.')}"),
            Prediction(ids["posts:2:0"], "damage", PROBS,
                       f"{b}|{text_key(TWEETS['2'] + ' People carrying water bottles.')}"),
            Prediction(ids["posts:2:1"], "damage", PROBS, f"{c}|{text_key(TWEETS['2'])}"),
            Prediction(ids["posts:3:0"], "damage", PROBS, None),
        ])
        image_only = store.add_model_version("informative", "informative-img",
                                             "models/informative-img")
        store.add_predictions(image_only, [Prediction(
            ids["posts:2:0"], "informative", {"informative": 0.8, "not_informative": 0.2},
            f"{b}|")])
        store.add_labels([LabelChange(ids["posts:2:0"], "damage", "mild_damage")],
                         annotator="ana")
    return project


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _rows(project: Project, tmp_path: Path, fmt: str, **options) -> dict[str, dict]:
    """The export's rows by item id, flattened alike for CSV and JSONL."""
    out = tmp_path / "out" / f"labels.{fmt}"
    with project.open_store() as store:
        Exporter(store, **options).write(out, fmt)
    if fmt == "csv":
        return {row["item_id"]: row for row in _csv_rows(out)}
    rows = {}
    for line in out.read_text("utf-8").splitlines():
        record = json.loads(line)
        for task, entry in record.pop("tasks").items():
            record.update({f"{task}_{k}": ("" if v is None else v) for k, v in entry.items()})
        rows[record["item_id"]] = {k: ("" if v is None else v) for k, v in record.items()}
    return rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_each_item_names_the_caption_its_text_holds_and_who_wrote_it(
        captioned: Project, tmp_path: Path, fmt: str) -> None:
    rows = _rows(captioned, tmp_path, fmt)
    with captioned.open_store() as store:
        for uid, row in rows.items():
            in_use = store.item_caption(store.resolve_item(uid).id)
            expected = (in_use.caption, in_use.captioner, in_use.model) if in_use \
                else ("", "", "")
            assert (row["caption"], row["captioner"], row["caption_model"]) == expected, uid
    # The newest caption, not the older captioner's; a flagged one is never in use.
    assert rows["posts:1:0"]["captioner"] == "new-cap"
    assert rows["posts:2:1"]["caption"] == "" and rows["posts:3:0"]["caption"] == ""


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_each_prediction_says_which_text_it_read(captioned: Project, tmp_path: Path,
                                                 fmt: str) -> None:
    rows = _rows(captioned, tmp_path, fmt)
    read = {uid: row["damage_prediction_read"] for uid, row in rows.items()}
    assert read == {"posts:1:0": "tweet+other caption",  # predicted before new-cap's
                    "posts:2:0": "tweet+caption",
                    "posts:2:1": "tweet",
                    "posts:3:0": ""}  # kept from before predictions recorded their input
    assert rows["posts:2:0"]["informative_prediction_read"] == "no text"
    assert rows["posts:1:0"]["informative_prediction_read"] == ""  # no prediction
    # The version that made it stays named beside it.
    assert rows["posts:2:0"]["damage_model_version"] == "damage-v1"


def test_a_caption_read_since_the_tweet_alone_is_told_apart(captioned: Project,
                                                            tmp_path: Path) -> None:
    # Captioned after it was predicted: the prediction read the tweet alone, whatever
    # caption the row now shows.
    with captioned.open_store() as store:
        c = _sha(store, "posts:2:1")
        store.add_caption(c, TWEETS["2"], "new-cap", "v2", "A truck with pallets.")
    rows = _rows(captioned, tmp_path, "csv")
    assert rows["posts:2:1"]["caption"] == "A truck with pallets."
    assert rows["posts:2:1"]["damage_prediction_read"] == "tweet"


def test_earlier_columns_keep_their_places(captioned: Project, tmp_path: Path) -> None:
    # Sheets and scripts that read the export by column position go on working: the new
    # columns come after every column of before.
    out = tmp_path / "labels.csv"
    with captioned.open_store() as store:
        tasks = list(store.schemes())
        Exporter(store).write(out, "csv")
    header = next(csv.reader(out.open(newline="", encoding="utf-8")))
    before = list(POST_COLUMNS) + [task if key == "label" else f"{task}_{key}"
                                   for task in tasks for key in TASK_COLUMNS]
    assert header[:len(before)] == before
    assert header[len(before):] == ["caption", "captioner", "caption_model",
                                    *(f"{task}_prediction_read" for task in tasks)]


def test_a_caption_that_reads_as_a_formula_is_quoted_for_a_spreadsheet(
        captioned: Project, tmp_path: Path) -> None:
    with captioned.open_store() as store:
        b = _sha(store, "posts:2:0")
        store.add_caption(b, TWEETS["2"], "new-cap", "v2", '=HYPERLINK("http://x","y")')
    rows = _rows(captioned, tmp_path, "csv", for_spreadsheet=True)
    assert rows["posts:2:0"]["caption"] == '\'=HYPERLINK("http://x","y")'
    plain = _rows(captioned, tmp_path, "csv")
    assert plain["posts:2:0"]["caption"] == '=HYPERLINK("http://x","y")'


def test_hashed_authors_keep_the_captions(captioned: Project, tmp_path: Path) -> None:
    rows = _rows(captioned, tmp_path, "csv", hash_authors=True)
    assert rows["posts:2:0"]["author"].startswith("anon-")
    assert rows["posts:2:0"]["caption"] == "People carrying water bottles."


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_reimport_ignores_the_caption(captioned: Project, tmp_path: Path, fmt: str) -> None:
    # A caption in an export is model text from another project: on re-import it is not
    # the post's text, not a label, and not a caption of the new project (its own
    # captioner writes those, under its own cache key).
    out = tmp_path / "out" / f"labels.{fmt}"
    with captioned.open_store() as store:
        Exporter(store).write(out, fmt)
        before = {i["item_id"]: (i["text"], i["tasks"]["damage"]["label"],
                                 i["tasks"]["damage"]["label_source"])
                  for i in store.export_items(list(store.schemes()))}
    again = Project.open(tmp_path / "again", create=True)
    job = _import_job(again, out, source="posts", images_root=tmp_path / "src")
    assert not [p for p in job.report.problems if "caption" in str(p).lower()]
    with again.open_store() as store:
        after = {i["item_id"]: (i["text"], i["tasks"]["damage"]["label"],
                                i["tasks"]["damage"]["label_source"])
                 for i in store.export_items(list(store.schemes()))}
        assert store.conn.execute("SELECT COUNT(*) FROM captions").fetchone()[0] == 0
    assert after == before


@pytest.mark.parametrize("name", ["caption", "captioner", "caption_model"])
def test_a_task_cannot_be_named_like_a_caption_column(name: str) -> None:
    # Its label column would be the caption's: a re-import read the caption as labels.
    with pytest.raises(SchemeError, match="post column"):
        scheme_from_json({"task": name, "classes": ["a", "b"], "merges": {},
                          "description": ""}, "own.json")


def test_the_captions_are_read_a_chunk_at_a_time_not_per_item(project: Project,
                                                              tmp_path: Path) -> None:
    # 100,000 items must not mean 100,000 caption queries: an export's statements do not
    # grow with its items (within a chunk of export_items).
    folder = tmp_path / "many"
    folder.mkdir()
    with (folder / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "image"])
        for i in range(40):
            name = f"{i}.jpg"
            Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / name)
            writer.writerow([str(i), f"post {i}", name])
    _import(project, folder / "posts.csv")

    def statements(limit: int) -> int:
        with project.open_store() as store:
            for item in list(store.export_items(["damage"]))[:limit]:
                store.add_caption(item["image_sha256"], item["text"], "cap", "v1", "x")
            seen: list[str] = []
            store.conn.set_trace_callback(seen.append)
            Exporter(store, tasks=["damage"]).write(tmp_path / f"{limit}.csv", "csv")
            store.conn.set_trace_callback(None)
        return sum(1 for sql in seen if "captions" in sql)

    assert statements(2) == statements(40) >= 1
