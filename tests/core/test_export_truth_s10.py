"""Exports as the people downstream meet them: the CLI's answers for the paths an
analyst gives (a file already there, one task or several)."""

from __future__ import annotations

import csv
from pathlib import Path

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange


def _labelled(project: Project, tmp_path: Path) -> None:
    """Two text-only posts with a damage label each, imported from a CSV."""
    source = tmp_path / "posts.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "damage"])
        writer.writerows([("1", "Bridge down", "severe_damage"),
                          ("2", "Roof gone", "mild_damage")])
    assert main(["import", str(project.root), str(source)]) == 0
    with project.open_store() as store:
        item = store.resolve_item("posts:2:0")
        store.add_labels([LabelChange(item.id, "damage", "little_or_no_damage")],
                         annotator="ana")


def test_crisismmd_export_of_one_task_writes_over_the_file_named(
        project: Project, tmp_path: Path, capsys) -> None:
    """`--task damage OUT` where OUT is a file already there (named without a suffix):
    the one task's TSV replaces it. It was refused with advice to give --task TASK,
    the very option given, so following the advice failed again."""
    _labelled(project, tmp_path)
    out = tmp_path / "damage_labels"
    out.write_text("an older export\n", encoding="utf-8")
    code = main(["export", str(project.root), str(out), "--format", "crisismmd",
                 "--task", "damage"])
    assert code == 0, capsys.readouterr().err
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, dialect="excel-tab"))
    assert {(r["tweet_id"], r["label"]) for r in rows} == {
        ("1", "severe_damage"), ("2", "little_or_no_damage")}
