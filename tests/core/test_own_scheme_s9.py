"""A project's own label scheme in a messy deployment (issue 5): labels written as
spreadsheets and Macs write them match the scheme's classes and merges, and a scheme file
with a merge that could never apply, or two that contradict each other, is refused
naming the file and the key."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import LabelScheme, SchemeError, scheme_from_json

NEEDS = {"task": "needs", "description": "What people ask for.",
         "classes": ["water", "food", "shelter", "médical", "santé mentale", "électricité",
                     "other"],
         "merges": {"drinking water": "water", "Médico": "médical"}}


def _nfd(text: str) -> str:
    """``text`` with its accents as combining marks, as macOS writes file names and
    some of its apps write text."""
    return unicodedata.normalize("NFD", text)


def test_accents_written_decomposed_match_the_class() -> None:
    scheme = scheme_from_json(NEEDS, "needs.json")
    assert scheme.normalise(_nfd("Médical")) == "médical"
    assert scheme.normalise(_nfd("Santé mentale")) == "santé_mentale"
    assert scheme.normalise(_nfd("médico")) == "médical"


def test_a_scheme_file_written_decomposed_matches_labels_written_composed() -> None:
    decomposed = {**NEEDS, "classes": [_nfd(c) for c in NEEDS["classes"]],
                  "merges": {_nfd(k): _nfd(v) for k, v in NEEDS["merges"].items()}}
    scheme = scheme_from_json(decomposed, "needs.json")
    assert scheme.classes == scheme_from_json(NEEDS, "needs.json").classes
    assert scheme.normalise("électricité") == "électricité"
    assert scheme.normalise("Médico") == "médical"


def test_a_scheme_stored_decomposed_gives_its_stored_class() -> None:
    # A project whose scheme was added from a decomposed file before labels were composed:
    # the journal accepts only the class as stored.
    stored = LabelScheme("needs", (_nfd("médical"), "other"), {_nfd("médico"): _nfd("médical")})
    assert stored.normalise("Médical") == _nfd("médical")
    assert stored.normalise("médico") == _nfd("médical")


@pytest.mark.parametrize("written", ["Drinking  water", "drinking\u00a0water",
                                     "drinking \t water", "Santé  mentale"])
def test_runs_of_blanks_inside_a_label_count_as_one(written: str) -> None:
    scheme = scheme_from_json(NEEDS, "needs.json")
    assert scheme.normalise(written) in ("water", "santé_mentale")


def test_an_import_reads_decomposed_and_doubly_spaced_labels(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "proj", create=True)
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(NEEDS, "needs.json"))
    path = tmp_path / "sheet.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([
            ["id", "text", "needs"],
            ["p1", "the clinic is full", _nfd("Médical")],
            ["p2", "no water since monday", "Drinking  water"],
            ["p3", "lines are down", "électricité"],
        ])
    list(ImportJob(project, [path], ImportOptions()).run())
    with project.open_store() as store:
        labels = {store.item_uid_of(item): label
                  for item, label, _ in store.labelled_items("needs")}
    assert labels == {"sheet:p1:0": "médical", "sheet:p2:0": "water",
                      "sheet:p3:0": "électricité"}


@pytest.mark.parametrize(("merges", "names"), [
    ({"water": "food"}, "'water' is a class"),
    ({"Water": "food", "food": "water"}, "'Water' is a class"),
    ({"drinking water": "water", "Drinking-Water": "food"},
     "'drinking water' and 'Drinking-Water' are the same source label"),
    ({" ": "water"}, "an empty source label"),
])
def test_a_merge_that_cannot_apply_or_contradicts_another_is_refused(merges: dict,
                                                                     names: str) -> None:
    with pytest.raises(SchemeError, match="^needs.json: key 'merges': .*" + names):
        scheme_from_json({**NEEDS, "merges": merges}, "needs.json")


def test_a_merge_of_a_class_onto_itself_is_harmless() -> None:
    scheme = scheme_from_json({**NEEDS, "merges": {"Water": "water"}}, "needs.json")
    assert scheme.normalise("WATER") == "water"


def test_cli_adds_a_scheme_file_saved_with_a_byte_order_mark(tmp_path: Path, capsys
                                                             ) -> None:
    Project.open(tmp_path / "proj", create=True)
    path = tmp_path / "needs.json"
    # Windows Notepad ("UTF-8 with BOM") and PowerShell 5's Out-File write one.
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(NEEDS).encode("utf-8"))
    assert main(["schemes", "add", str(tmp_path / "proj"), str(path)]) == 0
    assert "task needs: water, food" in capsys.readouterr().out


def _import_report(project: Project, path: Path, options: ImportOptions | None = None
                   ) -> list[str]:
    job = ImportJob(project, [path], options or ImportOptions())
    list(job.run())
    return [f"{p.where}: {p.message}" for p in job.report.problems]


@pytest.mark.parametrize(("name", "content"), [
    ("sheet.csv", "id,text,label\nq1,no water since monday,water\n"),
    ("sheet.jsonl", '{"id": "q1", "text": "no water since monday", "label": "water"}\n'),
    # A one-task CrisisMMD export (--format crisismmd --task needs needs.tsv) read back.
    ("needs.tsv", "event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\tsplit\n"
                  "flood\tq1\tq1_0\tno water since monday\t\twater\t\n"),
])
def test_a_label_column_of_no_task_is_reported_not_dropped_silently(
        tmp_path: Path, name: str, content: str) -> None:
    project = Project.open(tmp_path / "proj", create=True)
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(NEEDS, "needs.json"))
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    problems = _import_report(project, path)
    assert any(str(path) in p and "'label' is not read" in p and "label_needs=label" in p
               for p in problems), problems


def test_a_mapped_label_column_is_read_without_a_word(tmp_path: Path) -> None:
    project = Project.open(tmp_path / "proj", create=True)
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(NEEDS, "needs.json"))
    path = tmp_path / "sheet.csv"
    path.write_text("id,text,label\nq1,no water since monday,Drinking water\n",
                    encoding="utf-8")
    problems = _import_report(project, path,
                              ImportOptions(mapping={"label_needs": "label"}))
    assert problems == []
    with project.open_store() as store:
        assert [label for _, label, _ in store.labelled_items("needs")] == ["water"]
