"""Two analysts on one project, then an export: bugs found driving the journal and the
exporter as two colleagues do (one in the app, one with the CLI)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from import_helpers import items, run_import, write_csv, write_jsonl

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange

ALICE_AT = "2017-09-01T11:00:00.000Z"  # when alice gave her label (an explicit time)
IMPORTED_AT = "2017-08-30T08:00:00.000Z"


def _exported(project: Project, tmp_path: Path, **options) -> dict[str, dict]:
    """The CSV export's rows by post id."""
    with project.open_store() as store:
        (out,) = Exporter(store, **options).write(tmp_path / "out.csv", "csv")
    with out.open(encoding="utf-8", newline="") as handle:
        return {row["post_id"]: row for row in csv.DictReader(handle)}


def test_a_label_restored_by_undo_keeps_the_time_it_was_given(proj: Project,
                                                              tmp_path: Path) -> None:
    """Bob relabels alice's item, then takes it back: alice's label is current again,
    and so is the time she gave it. The restored row had the undo's time, so the
    export (and a project importing it) said alice labelled it when bob pressed Ctrl+Z;
    the same for an imported label restored by an analyst's undo."""
    source = write_csv(tmp_path / "src" / "posts.csv",
                       ["id", "text", "damage", "damage_labelled_at"],
                       [["1", "roof gone", "severe_damage", IMPORTED_AT],
                        ["2", "street flooded", "", ""]])
    run_import(proj, [source], source="feed")
    with proj.open_store() as store:
        one, two = items(store, "feed", "1")[0].id, items(store, "feed", "2")[0].id
        store.add_labels([LabelChange(two, "damage", "mild_damage", given_at=ALICE_AT)],
                         annotator="alice")
        store.add_labels([LabelChange(two, "damage", "little_or_no_damage")],
                         annotator="bob")
        store.add_labels([LabelChange(one, "damage", "mild_damage")], annotator="bob")
        assert store.undo("bob") == [LabelChange(one, "damage", "severe_damage")]
        assert store.undo("bob") == [LabelChange(two, "damage", "mild_damage")]
        restored = store.current_label(two, "damage")
        assert (restored.label, restored.annotator, restored.created_at) == (
            "mild_damage", "alice", ALICE_AT)
        imported = store.current_label(one, "damage")
        assert (imported.source, imported.created_at) == ("import", IMPORTED_AT)
    rows = _exported(proj, tmp_path, tasks=["damage"])
    assert (rows["2"]["damage"], rows["2"]["damage_annotator"],
            rows["2"]["damage_labelled_at"]) == ("mild_damage", "alice", ALICE_AT)
    assert (rows["1"]["damage"], rows["1"]["damage_label_source"],
            rows["1"]["damage_labelled_at"]) == ("severe_damage", "import", IMPORTED_AT)


def test_an_export_with_hashed_authors_names_no_author_in_its_urls(proj: Project,
                                                                   tmp_path: Path) -> None:
    """X, Mastodon and Bluesky post URLs hold the poster's handle
    (``https://x.com/<handle>/status/<id>``): with --hash-authors the author column was a
    hash while the url column beside it named the poster in plain text."""
    page = {"data": [{"id": "1", "text": "Water rising on Main St", "author_id": "u1"},
                     {"id": "2", "text": "Shelter open", "author_id": "u2"}],
            "includes": {"users": [{"id": "u1", "username": "relief_ops"},
                                   {"id": "u2", "username": "Jane_Doe_Houston"}]},
            "meta": {"result_count": 2}, "__twarc": {"version": "2.14.0"}}
    source = write_jsonl(tmp_path / "irma.jsonl", [page])
    job = run_import(proj, [source])
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        (item,) = items(store, "irma", "2")
        store.add_labels([LabelChange(item.id, "informative", "informative")],
                         annotator="alice")
    plain = _exported(proj, tmp_path)
    assert plain["2"]["url"] == "https://x.com/Jane_Doe_Houston/status/2"  # kept unhashed
    for fmt in ("csv", "jsonl"):
        with proj.open_store() as store:
            (out,) = Exporter(store, hash_authors=True, only_corrected=fmt == "csv"
                              ).write(tmp_path / f"hashed.{fmt}", fmt)
        written = out.read_text(encoding="utf-8")
        for handle in ("relief_ops", "Jane_Doe_Houston"):
            assert handle.lower() not in written.lower(), (fmt, handle)
        if fmt == "jsonl":
            records = [json.loads(line) for line in written.splitlines()]
            assert [r["url"] for r in records] == [None, None]
            assert all(r["author"].startswith("anon-") for r in records)


def test_a_label_taken_back_by_undo_does_not_block_the_sources_label(proj: Project,
                                                                      tmp_path: Path) -> None:
    """Alice labels an unlabelled post, then undoes it: no analyst's decision stands. The
    next import of an updated file that labels the post was refused as if alice had
    cleared the label on purpose, and the post stayed unlabelled for good."""
    header = ["id", "text", "damage"]
    source = write_csv(tmp_path / "src" / "posts.csv", header, [["1", "roof gone", ""]])
    run_import(proj, [source], source="feed")
    with proj.open_store() as store:
        (item,) = items(store, "feed", "1")
        store.add_labels([LabelChange(item.id, "damage", "mild_damage")], annotator="alice")
        assert store.undo("alice") == [LabelChange(item.id, "damage", None)]
    write_csv(source, header, [["1", "roof gone", "severe_damage"]])
    job = run_import(proj, [source], source="feed")
    assert not [p for p in job.report.problems if "not taken" in str(p)], job.report.problems
    with proj.open_store() as store:
        label = store.current_label(item.id, "damage")
        assert label is not None and (label.label, label.source) == ("severe_damage", "import")
