"""The spreadsheet CSV export: a UTF-8 BOM and formula-looking cells quoted (OWASP "CSV
injection"); the plain CSV stays as it was; a CSV that starts with a BOM imports cleanly."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import pytest
from import_helpers import run_import

from crisisdesk.core.exporters import Exporter, spreadsheet_safe
from crisisdesk.core.project import Project
from crisisdesk.core.store import Prediction

POSTS = [
    {"id": "1", "text": "=1+1", "author": "@alice", "damage": "mild_damage"},
    {"id": "2", "text": "@user the bridge is down", "author": "bob", "damage": "severe_damage"},
    {"id": "3", "text": "Río Grande en crue 🌊 — الفيضان", "author": "carla",
     "damage": "little_or_no_damage"},
]


@pytest.fixture
def posts(project: Project, tmp_path: Path) -> Project:
    """Three text-only posts, one with a formula text and a handle author, one predicted."""
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in POSTS), "utf-8")
    job = run_import(project, [source])
    assert job.report.errors == 0, job.report.summary()
    with project.open_store() as store:
        item = store.resolve_item("posts:1:0")
        version = store.add_model_version("damage", "damage-v1", "models/damage-v1")
        store.add_predictions(version, [Prediction(item.id, "damage", {
            "severe_damage": 0.1, "mild_damage": 0.7, "little_or_no_damage": 0.2})])
    return project


def _rows(path: Path, encoding: str) -> dict[str, dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return {r["post_id"]: r for r in csv.DictReader(handle)}


def test_spreadsheet_csv_starts_with_a_utf8_bom(posts: Project, tmp_path: Path) -> None:
    out = tmp_path / "sheet.csv"
    with posts.open_store() as store:
        Exporter(store, tasks=["damage"], for_spreadsheet=True).write(out, "csv")
    assert out.read_bytes().startswith(codecs.BOM_UTF8 + b"item_id,")
    assert _rows(out, "utf-8-sig")["3"]["text"] == POSTS[2]["text"]


def test_spreadsheet_csv_quotes_cells_that_start_a_formula(posts: Project,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "sheet.csv"
    with posts.open_store() as store:
        Exporter(store, tasks=["damage"], for_spreadsheet=True).write(out, "csv")
    rows = _rows(out, "utf-8-sig")
    assert rows["1"]["text"] == "'=1+1"
    assert rows["1"]["author"] == "'@alice"
    assert rows["2"]["text"] == "'@user the bridge is down"
    # Other cells are left as they are, numbers included.
    assert rows["2"]["author"] == "bob"
    assert rows["3"]["text"] == POSTS[2]["text"]
    assert rows["1"]["item_id"] == "posts:1:0" and rows["1"]["n"] == "0"
    assert rows["1"]["damage"] == "mild_damage"
    assert rows["1"]["damage_confidence"] == "0.7"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_character_gets_a_quote(start: str) -> None:
    assert spreadsheet_safe(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("value", [-0.5, 3, "", "plain text", "a=b", "'already"])
def test_numbers_and_other_texts_are_left_alone(value: object) -> None:
    assert spreadsheet_safe(value) == value


def test_default_csv_has_no_bom_and_keeps_texts_as_they_are(posts: Project,
                                                            tmp_path: Path) -> None:
    # The plain CSV is re-imported by crisisdesk and read by pandas: it must not change.
    out = tmp_path / "plain.csv"
    with posts.open_store() as store:
        Exporter(store, tasks=["damage"]).write(out, "csv")
    assert out.read_bytes().startswith(b"item_id,")
    rows = _rows(out, "utf-8")
    assert (rows["1"]["text"], rows["1"]["author"]) == ("=1+1", "@alice")
    assert rows["2"]["text"] == "@user the bridge is down"


def test_spreadsheet_option_is_for_csv_only(posts: Project, tmp_path: Path) -> None:
    with posts.open_store() as store:
        exporter = Exporter(store, for_spreadsheet=True)
        with pytest.raises(ValueError, match="CSV only"):
            exporter.write(tmp_path / "labels.jsonl", "jsonl")
    assert not (tmp_path / "labels.jsonl").exists()


def test_a_csv_that_starts_with_a_bom_imports_with_its_first_column(project: Project,
                                                                    tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts with a BOM; read naively, the first column is "\ufeffid".
    source = tmp_path / "excel.csv"
    source.write_bytes(codecs.BOM_UTF8 + "id,text,damage\r\n7,Pont effondré,severe_damage\r\n"
                       .encode())
    job = run_import(project, [source])
    assert job.report.errors == 0, job.report.summary()
    with project.open_store() as store:
        post = store.find_post("excel", "7")
        assert post is not None and post.text == "Pont effondré"
        assert [i["tasks"]["damage"]["label"] for i in store.export_items(["damage"])] == [
            "severe_damage"]
