"""Import, export and label-journal cases found by exercising crisisdesk as an analyst
would: damaged UTF-16 files, tweets cut inside an emoji, duplicated column names, label
columns given with --map, and labels the label schemes do not know."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from import_helpers import errors, items, label_of, post_row, run_import, write_csv

from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _warnings(job) -> list[str]:
    return [str(p) for p in job.report.problems if p.severity == "warning"]


def test_a_damaged_utf16_file_is_imported_with_a_warning(proj: Project, tmp_path: Path):
    # Excel's "Unicode text" is UTF-16; a copy cut short (odd byte count) used to stop the
    # whole import with a UnicodeDecodeError traceback, other sources included.
    data = "id,text\r\n1,Flooded road\r\n2,Bridge out\r\n".encode("utf-16")
    damaged = tmp_path / "cut.csv"
    damaged.write_bytes(data[:-1])
    other = write_csv(tmp_path / "other.csv", ["id", "text"], [["9", "Shelter open"]])
    job = run_import(proj, [damaged, other])
    with proj.open_store() as store:
        assert post_row(store, "cut", "1")["text"] == "Flooded road"
        assert post_row(store, "other", "9")["text"] == "Shelter open"
    assert any("cut.csv" in w and "UTF-16" in w for w in _warnings(job)), job.report.problems


def test_a_utf16_file_with_a_lone_surrogate_keeps_its_other_rows(proj: Project,
                                                                 tmp_path: Path):
    body = "id,text\r\n1,First\r\n".encode("utf-16-le") + b"\x3c\xd8" + \
        "\r\n2,Second\r\n".encode("utf-16-le")
    table = tmp_path / "bad16.csv"
    table.write_bytes(codecs.BOM_UTF16_LE + body)
    job = run_import(proj, [table])
    with proj.open_store() as store:
        assert post_row(store, "bad16", "1")["text"] == "First"
        assert post_row(store, "bad16", "2")["text"] == "Second"
    assert any("line 3" in w for w in _warnings(job)), job.report.problems


def test_a_text_cut_inside_an_emoji_is_imported_with_a_replacement(proj: Project,
                                                                   tmp_path: Path):
    # JSON escapes an emoji as a UTF-16 surrogate pair; a collector that cut the text
    # between the two leaves half a pair, which SQLite cannot store: the post was dropped.
    source = tmp_path / "cut.jsonl"
    source.write_text('{"id": "1", "text": "Water rising \\ud83c", "damage": "severe_damage"}\n'
                      '{"id": "2", "text": "fine"}\n', "utf-8")
    job = run_import(proj, [source])
    assert errors(job) == []
    with proj.open_store() as store:
        assert post_row(store, "cut", "1")["text"] == "Water rising \ufffd"
        assert label_of(store, items(store, "cut", "1")[0].id, "damage") == "severe_damage"
    assert any("cut.jsonl row 1" in w and "surrogate" in w for w in _warnings(job))


def test_a_column_name_given_twice_is_reported_and_the_first_read(proj: Project,
                                                                  tmp_path: Path):
    table = write_csv(tmp_path / "twice.csv", ["id", "text", "Text", "damage", "damage"],
                      [["1", "the tweet", "a note", "severe_damage", "mild_damage"]])
    job = run_import(proj, [table])
    with proj.open_store() as store:
        assert post_row(store, "twice", "1")["text"] == "the tweet"
        assert label_of(store, items(store, "twice", "1")[0].id, "damage") == "severe_damage"
    warned = [w for w in _warnings(job) if "twice.csv" in w and "more than once" in w]
    assert len(warned) == 2 and "'text'" in warned[0] and "'damage'" in warned[1], warned


def test_a_mapped_label_column_is_found_without_regard_to_case(proj: Project,
                                                               tmp_path: Path):
    table = write_csv(tmp_path / "sev.csv", ["id", "text", "Severity"],
                      [["1", "Roof gone", "severe_damage"]])
    run_import(proj, [table], mapping={"label_damage": "severity"})
    with proj.open_store() as store:
        assert label_of(store, items(store, "sev", "1")[0].id, "damage") == "severe_damage"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_mapped_label_column_that_is_not_there_is_reported(proj: Project, tmp_path: Path,
                                                             fmt: str):
    if fmt == "csv":
        table = write_csv(tmp_path / "sev.csv", ["id", "text", "severity"],
                          [["1", "Roof gone", "severe_damage"]])
    else:
        table = tmp_path / "sev.jsonl"
        table.write_text(json.dumps({"id": "1", "text": "Roof gone",
                                     "severity": "severe_damage"}) + "\n", "utf-8")
    job = run_import(proj, [table], mapping={"label_damage": "sevrity"})
    assert any(f"sev.{fmt}" in e and "label_damage=sevrity" in e for e in errors(job)), \
        job.report.problems


def test_a_mapping_of_an_unknown_field_is_reported(proj: Project, tmp_path: Path):
    # "--map damage=severity" looked like it would read the labels, and did nothing.
    table = write_csv(tmp_path / "sev.csv", ["id", "text", "severity"],
                      [["1", "Roof gone", "severe_damage"]])
    job = run_import(proj, [table], mapping={"damage": "severity"})
    assert any("--map damage=severity" in e and "label_damage" in e for e in errors(job)), \
        job.report.problems


def _one_item(project: Project) -> int:
    with project.open_store() as store:
        store.ensure_source("src", "csv", "/data/src.csv")
        post = store.insert_post("src", "1", text="a post")
        return store.add_text_item(post, "src", "1")


@pytest.mark.parametrize(("task", "label", "match"), [
    ("weather", "sunny", "unknown task 'weather'"),
    ("damage", "Mild damage", "not a class of task damage"),
    ("damage", "flooded", "not a class of task damage"),
])
def test_the_journal_refuses_a_label_no_scheme_knows(proj: Project, task: str, label: str,
                                                     match: str):
    # The CLI and the app check the class; the store did not, so a script's typo went
    # into the journal, out in exports, and was refused by the next import.
    item = _one_item(proj)
    with proj.open_store() as store:
        with pytest.raises(ValueError, match=match):
            store.add_labels([LabelChange(item, task, label)], annotator="ana")
        assert store.journal(item) == []
        # A clearing change (label None) and a real class still go in.
        assert store.add_labels([LabelChange(item, "damage", "mild_damage")], annotator="ana")
        assert store.add_labels([LabelChange(item, "damage", None)], annotator="ana")


def test_a_header_only_table_is_reported(tmp_path: Path) -> None:
    """Else the report says "0 new posts" alone, as if its posts were known already."""
    table = tmp_path / "empty.csv"
    table.write_text("id,text,damage\n", "utf-8")
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    assert [(p.severity, p.message) for p in job.report.problems] == [
        ("warning", "no rows below the header: nothing to import")]
