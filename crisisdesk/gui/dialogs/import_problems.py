"""The import dialog's list of an import report's problems: one row per problem
(severity, file, row, message), errors in dark red, the whole path and message in
tooltips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from crisisdesk.core.importers import Problem
from crisisdesk.gui.advice import os_words


def problems_tree() -> QTreeWidget:
    """An empty, hidden list of problems (shown once a report has any)."""
    tree = QTreeWidget()
    tree.setHeaderLabels(["Severity", "File", "Row", "Problem"])
    tree.setRootIsDecorated(False)
    tree.setVisible(False)
    return tree


def show_problems(tree: QTreeWidget, problems: Sequence[Problem]) -> None:
    """Fill ``tree`` with ``problems``; shown only when there are any."""
    tree.clear()
    for problem in problems:
        message = os_words(problem.message)  # "[Errno 28]": a number, not words
        row = QTreeWidgetItem([problem.severity, Path(problem.where.file).name,
                               "" if problem.where.row is None else str(problem.where.row),
                               message])
        row.setToolTip(1, problem.where.file)
        row.setToolTip(3, message)
        if problem.severity == "error":
            row.setForeground(0, Qt.GlobalColor.darkRed)
        tree.addTopLevelItem(row)
    tree.setVisible(bool(problems))
    for column in range(3):
        tree.resizeColumnToContents(column)
