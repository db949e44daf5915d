"""Jobs > History…: the keyboard's line is the selected one. Focus coming to the list
puts Qt's cursor on its first line without selecting it (QAbstractItemView's focus-in):
the line under the list said "Select a job to see what it ran on." beside the cursor,
Report stayed off, and Ctrl+Home (already there) selected nothing (a test of the
details line failed 3 times in 12 for it)."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from test_history_keys_s17 import _opened as opened_history

from crisisdesk.core.project import Project


def test_the_line_the_cursor_comes_to_is_selected(qtbot, demo_like_project: Project) -> None:
    with demo_like_project.open_store() as store:
        export = store.start_job("export", {"tasks": ["informative"], "format": "csv"})
        store.finish_job(export, "done")
        retrain = store.start_job("retrain", {"tasks": ["damage"]})
        store.finish_job(retrain, "done")
        rows = len(store.jobs_page())
    dialog = opened_history(qtbot, demo_like_project, rows)
    dialog.table.clearSelection()
    # As the list's focus-in does: the cursor set, the selection left as it is.
    dialog.table.selectionModel().setCurrentIndex(
        dialog.table.model().index(0, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
    line = dialog.selected()
    assert line is not None and line.job == retrain
    assert "damage" in dialog.details.text()
    assert dialog.report.isEnabled()  # a finished retrain: its report opens from here
    dialog.reject()
