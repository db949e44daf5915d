"""Re-importing an export keeps who gave each label: its source, annotator and time.

Exports are how labels travel between projects; a correction must come back a
correction, not an imported label. Also: a re-import whose images are still not found
says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import (
    build_csv_source,
    errors,
    items,
    journal_rows,
    run_import,
    write_csv,
    write_jsonl,
)

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, queue_size
from crisisdesk.core.store import LabelChange, Store

TASKS = ("informative", "humanitarian", "damage")


def _labels(store: Store) -> dict[tuple[str, str], tuple]:
    """Every current label by (item uid, task): class, source, annotator, time."""
    return {(r["uid"], r["task"]): (r["label"], r["source"], r["annotator"], r["created_at"])
            for r in store.conn.execute(
                "SELECT i.uid, c.task, c.label, c.source, c.annotator, c.created_at"
                " FROM current_labels c JOIN items i ON i.id = c.item")}


def _hand_labelled(tmp_path: Path) -> tuple[Project, Path]:
    """A project whose imported labels two people corrected and added to, as the GUI
    does (one action per key press, default source human)."""
    table = build_csv_source(tmp_path / "src")
    project = Project.open(tmp_path / "a", create=True)
    run_import(project, [table])
    with project.open_store() as store:
        one = items(store, "posts_table", "1")[0].id
        two = [i.id for i in items(store, "posts_table", "2")]
        four = items(store, "posts_table", "4")[0].id
        store.add_labels([LabelChange(one, "damage", "mild_damage")], annotator="alice")
        store.add_labels([LabelChange(i, "informative", "informative") for i in two],
                         annotator="bob")
        store.add_labels([LabelChange(four, "humanitarian", "rescue_volunteering_or_donation"
                                      "_effort")], annotator="alice")
    return project, table


def _export(project: Project, out: Path, fmt: str, **kw) -> str:
    with project.open_store() as store:
        Exporter(store, **kw).write(out, fmt)
    return out.read_text("utf-8")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imported_into_a_fresh_project_keeps_class_source_and_annotator(
        tmp_path, fmt):
    old, table = _hand_labelled(tmp_path)
    # Next to the source's images, so that they resolve as they did.
    out = table.parent / f"labels.{fmt}"
    _export(old, out, fmt)
    new = Project.open(tmp_path / "b", create=True)
    job = run_import(new, [out], source="posts_table")
    assert errors(job) == []
    with old.open_store() as a, new.open_store() as b:
        assert _labels(b) == _labels(a)
        assert {v[1] for v in _labels(b).values()} == {"human", "import"}
    assert _export(new, tmp_path / "new.csv", "csv", only_corrected=True) == \
        _export(old, tmp_path / "old.csv", "csv", only_corrected=True)


def test_corrections_imported_over_the_original_source_fill_the_corrected_queue(tmp_path):
    old, table = _hand_labelled(tmp_path)
    out = table.parent / "labels.csv"
    _export(old, out, "csv", only_corrected=True)
    new = Project.open(tmp_path / "b", create=True)
    run_import(new, [table])
    run_import(new, [out], source="posts_table")
    with old.open_store() as a, new.open_store() as b:
        assert queue_size(b, Queue("corrected", "damage")) == \
            queue_size(a, Queue("corrected", "damage")) == 1


def _provenance_csv(path: Path, source: str = "human") -> Path:
    return write_csv(path, ["id", "text", "damage", "damage_label_source", "damage_annotator",
                            "damage_labelled_at"], [
        ["1", "Roof torn off", "severe_damage", source, "alice", "2024-03-01T10:00:00.000Z"],
        ["2", "Bridge down", "mild_damage", "import", "crisismmd", ""],
        ["3", "All fine", "little_or_no_damage", "", "", ""],
    ])


def test_importing_a_file_with_label_provenance_twice_adds_no_journal_rows(proj, tmp_path):
    table = _provenance_csv(tmp_path / "team.csv")
    run_import(proj, [table])
    with proj.open_store() as store:
        rows = journal_rows(store)
    assert rows == 3
    second = run_import(proj, [table])
    assert second.report.labels_added == 0
    with proj.open_store() as store:
        assert journal_rows(store) == rows


def test_labels_keep_their_given_time_and_columns_left_empty_mean_a_plain_import(
        proj, tmp_path):
    run_import(proj, [_provenance_csv(tmp_path / "team.csv")])
    with proj.open_store() as store:
        one, two, three = (store.current_label(items(store, "team", p)[0].id, "damage")
                           for p in "123")
    assert one is not None and two is not None and three is not None
    assert (one.source, one.annotator, one.created_at) == \
        ("human", "alice", "2024-03-01T10:00:00.000Z")
    assert (two.source, two.annotator) == ("import", "crisismmd")
    assert (three.source, three.annotator) == ("import", "team")
    assert not two.created_at.startswith("2024") and not three.created_at.startswith("2024")


def test_imported_human_labels_are_not_the_annotators_own_action_to_undo(proj, tmp_path):
    run_import(proj, [_provenance_csv(tmp_path / "team.csv")])
    with proj.open_store() as store:
        assert store.undo("alice") == []
        assert store.current_label(items(store, "team", "1")[0].id, "damage").source == "human"


def test_an_unknown_label_source_is_reported_and_the_label_imported_as_an_import(
        proj, tmp_path):
    table = _provenance_csv(tmp_path / "team.csv", source="robot")
    job = run_import(proj, [table])
    problems = [p for p in job.report.problems if "robot" in p.message]
    assert len(problems) == 1
    assert (problems[0].where.file, problems[0].where.row) == (str(table), 2)
    assert "human, import, model" in problems[0].message
    with proj.open_store() as store:
        one = store.current_label(items(store, "team", "1")[0].id, "damage")
        two = store.current_label(items(store, "team", "2")[0].id, "damage")
    assert one is not None and two is not None
    assert (one.label, one.source, one.annotator) == ("severe_damage", "import", "team")
    assert (two.source, two.annotator) == ("import", "crisismmd")


def test_an_unreadable_label_time_is_reported_and_the_import_time_kept(proj, tmp_path):
    table = write_jsonl(tmp_path / "team.jsonl", [
        {"id": "1", "text": "Roof torn off", "tasks": {"damage": {
            "label": "severe_damage", "label_source": "human", "annotator": "alice",
            "labelled_at": "last tuesday"}}}])
    job = run_import(proj, [table])
    problems = [p for p in job.report.problems if "last tuesday" in p.message]
    assert len(problems) == 1 and problems[0].where.row == 1
    with proj.open_store() as store:
        label = store.current_label(items(store, "team", "1")[0].id, "damage")
    assert label is not None
    assert (label.source, label.annotator) == ("human", "alice")
    assert label.created_at.startswith("20") and label.created_at.endswith("Z")


# --------------------------------------------------------------------------- images


def test_a_reimport_whose_images_are_not_under_images_root_says_how_many(proj, tmp_path):
    names = [f"img{i}.jpg" for i in range(7)]
    table = write_csv(tmp_path / "posts.csv", ["id", "text", "image"],
                      [[str(i), f"post {i}", name] for i, name in enumerate(names)])
    run_import(proj, [table])  # the images are nowhere: recorded as missing
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    job = run_import(proj, [table], images_root=empty)
    assert job.report.media_attached == 0
    found = [p for p in job.report.problems if "not found" in p.message]
    assert len(found) == 1
    message = found[0].message
    assert found[0].where.file == str(table)
    assert message.startswith(f"7 images not found under {empty}")
    assert all(name in message for name in names[:5])
    assert names[5] not in message and "2 more" in message


def test_a_re_import_never_replaces_an_analysts_correction(tmp_path: Path) -> None:
    """The source changed its label for a post an analyst corrected: the correction
    stays (reported, with both labels); an uncorrected post takes the source's new one."""
    source = write_csv(tmp_path / "src" / "posts.csv", ["id", "text", "damage"], [
        ["1", "roof gone", "severe_damage"], ["2", "bridge down", "severe_damage"]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [source], source="feed")
    with project.open_store() as store:
        one, two = items(store, "feed", "1")[0].id, items(store, "feed", "2")[0].id
        store.add_labels([LabelChange(one, "damage", "little_or_no_damage")],
                         annotator="alice")
    write_csv(source, ["id", "text", "damage"], [
        ["1", "roof gone", "mild_damage"], ["2", "bridge down", "mild_damage"]])
    job = run_import(project, [source], source="feed")
    with project.open_store() as store:
        assert store.current_label(one, "damage").label == "little_or_no_damage"
        assert store.current_label(one, "damage").source == "human"
        assert store.current_label(two, "damage").label == "mild_damage"
    kept = [p.message for p in job.report.problems if "kept" in p.message]
    assert len(kept) == 1 and "'mild_damage'" in kept[0] and "little_or_no_damage" in kept[0]
    assert "alice" in kept[0]


@pytest.mark.parametrize("provenance", ["model", "human"])
def test_an_export_of_another_project_does_not_replace_a_correction(tmp_path: Path,
                                                                    provenance: str) -> None:
    """Rows that carry their own provenance (an export) do not undo a correction
    either, whatever source they name."""
    header = ["id", "text", "damage", "damage_label_source", "damage_annotator"]
    source = write_csv(tmp_path / "src" / "posts.csv", header,
                       [["1", "roof gone", "severe_damage", "import", "feed"]])
    project = Project.open(tmp_path / "p", create=True)
    run_import(project, [source], source="feed")
    with project.open_store() as store:
        one = items(store, "feed", "1")[0].id
        store.add_labels([LabelChange(one, "damage", "little_or_no_damage")],
                         annotator="alice")
    write_csv(source, header, [["1", "roof gone", "mild_damage", provenance, "bob"]])
    job = run_import(project, [source], source="feed")
    with project.open_store() as store:
        assert store.current_label(one, "damage").label == "little_or_no_damage"
    assert any("which is kept" in p.message for p in job.report.problems)
