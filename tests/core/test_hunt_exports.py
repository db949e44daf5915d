"""Exports hunt: a project's own task through every export format and back."""

from __future__ import annotations

import csv
from pathlib import Path

from crisisdesk.core.exporters import Exporter
from crisisdesk.core.importers import ImportJob, ImportOptions
from crisisdesk.core.importers.crisismmd import is_crisismmd_file
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.core.store import LabelChange, Store

# A task name as schemes allow it: underscores and digits.
FLOOD = {"task": "flood_level2", "classes": ["dry", "wet"]}


def _import(project: Project, *sources: Path) -> ImportJob:
    job = ImportJob(project, list(sources), ImportOptions())
    list(job.run())
    return job


def _flood_labels(store: Store) -> dict[str, str]:
    return {item["post_id"]: item["tasks"]["flood_level2"]["label"]
            for item in store.export_items(["flood_level2"])
            if item["tasks"]["flood_level2"]["label"]}


def _source(tmp_path: Path) -> Path:
    path = tmp_path / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "flood_level2", "split"])
        writer.writerows([("1", "street under water", "wet", "train"),
                          ("2", "sunny again", "dry", "dev"), ("3", "no label", "", "")])
    return path


def test_crisismmd_export_of_a_task_named_with_digits_and_underscores_imports_back(
        project: Project, tmp_path: Path) -> None:
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(FLOOD, "flood.json"))
    assert _import(project, _source(tmp_path)).report.errors == 0
    with project.open_store() as store:
        item = store.resolve_item("posts:3:0")
        store.add_labels([LabelChange(item.id, "flood_level2", "wet")], annotator="ana")
        files = Exporter(store, tasks=["flood_level2"]).write(tmp_path / "mmd", "crisismmd")
        before = _flood_labels(store)
    assert [f.name for f in files] == ["task_flood_level2_text_img.tsv"]
    assert is_crisismmd_file(files[0])
    again = Project.open(tmp_path / "again", create=True)
    with again.open_store() as store:
        store.add_scheme(scheme_from_json(FLOOD, "flood.json"))
    job = _import(again, files[0])
    assert job.report.errors == 0, job.report.summary()
    with again.open_store() as store:
        assert _flood_labels(store) == before == {"1": "wet", "2": "dry", "3": "wet"}
        assert store.counts()["splits"]["flood_level2"] == {"dev": 1, "train": 1}


def test_an_export_imported_where_its_project_task_is_missing_says_so(
        project: Project, tmp_path: Path) -> None:
    """The labels of a project task cannot be imported where that task was not added:
    said once per file, with the command that adds it (they were dropped silently)."""
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(FLOOD, "flood.json"))
    _import(project, _source(tmp_path))
    with project.open_store() as store:
        exported = [Exporter(store).write(tmp_path / f"out.{fmt}", fmt)[0]
                    for fmt in ("csv", "jsonl")]
    for file in exported:
        fresh = Project.open(tmp_path / f"fresh_{file.suffix[1:]}", create=True)
        job = _import(fresh, file)
        said = [p.message for p in job.report.problems if "flood_level2" in p.message]
        assert said == ["labels of task 'flood_level2' not imported: this project has no "
                        "such task (add it with crisisdesk schemes add PROJECT FILE.json, "
                        "then import again)"], (file, job.report.problems)
