"""Warnings about a table's header (CSV columns, JSONL keys) before its rows are read:
a column given twice, the label columns of a task the project lacks, a bare ``label``
column that names no task. Each is a line for the import report; the rows are read all
the same."""

from __future__ import annotations

from collections.abc import Mapping

from crisisdesk.core.schemes import LabelScheme, builtin_schemes


def repeated_columns(header: list[str]) -> list[str]:
    """A line for each column name the header gives more than once (case aside)."""
    places: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        places.setdefault(name.strip().lower(), []).append(number)
    return [f"column {header[at[0] - 1].strip()!r} appears more than once (columns "
            f"{', '.join(map(str, at))}); the first is read"
            for at in places.values() if len(at) > 1]


def unknown_tasks(header: list[str], schemes: Mapping[str, LabelScheme] | None
                  ) -> list[str]:
    """Lines for the tasks whose crisisdesk-export columns (``<task>_label_source``) the
    header holds but the project lacks: their labels are not read, and an export of a
    project with its own tasks, imported where they were not added, lost them silently."""
    known = schemes if schemes is not None else builtin_schemes()
    tasks = {name.strip().lower().removesuffix("_label_source") for name in header
             if isinstance(name, str) and name.strip().lower().endswith("_label_source")}
    return [f"labels of task {task!r} not imported: this project has no such task (add "
            f"it with crisisdesk schemes add PROJECT FILE.json, then import again)"
            for task in sorted(tasks - set(known)) if task]


def unread_label_column(header: list[str], mapping: Mapping[str, str],
                        schemes: Mapping[str, LabelScheme] | None) -> list[str]:
    """A line for a bare ``label`` column no task reads: an analyst's one-task sheet
    (``id,text,label``) or a one-task CrisisMMD export under another file name would
    else import its posts and drop every label without a word."""
    known = list(schemes if schemes is not None else builtin_schemes())
    column = next((name for name in header  # the first, as the label columns are read
                   if name is not None and name.strip().lower() == "label"), None)
    if column is None or "label" in known or any(
            value.strip().lower() == "label" for value in mapping.values()):
        return []
    return [f"column {column!r} is not read: it does not say which task its labels are "
            f"for; name it after the task ({known[-1]} or label_{known[-1]}; tasks: "
            f"{', '.join(known)}) or import with --map label_{known[-1]}={column} (a "
            "CrisisMMD file names its task in the file name, task_<task>_text_img.tsv)"]
