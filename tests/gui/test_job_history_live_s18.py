"""Jobs > History… while it stays open: it refreshed only when a job of its own window
ended, so a job run by another window or by the CLI on the same project was not seen
until the history was opened again; and what a job ran on (tasks, files, encoder,
format) was in a mouse's tooltip only. Now it looks again, off the UI thread, when it is
activated and every few seconds while open (reading again only when a job was added or
ended), keeping the line selected; and a line under the list says what the selected job
ran on, for the keys and a screen reader."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QLabel, QWidget
from test_history_keys_s17 import _opened as opened_history
from test_keyboard_hunt import _active

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog

#: Never within a test: the look on activation alone.
NEVER_MS = 3_600_000


def _opened(qtbot, project: Project) -> JobHistoryDialog:
    """The history, shown and active, every line read."""
    with project.open_store() as store:
        rows = len(store.jobs_page())
    return opened_history(qtbot, project, rows)


def _readers(monkeypatch) -> list[threading.Thread]:
    """The threads that read the jobs from now on."""
    threads: list[threading.Thread] = []
    real = job_history.read_page

    def read(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(job_history, "read_page", read)
    return threads


def _outcome(dialog: JobHistoryDialog, job: int) -> str | None:
    return next((line.outcome for line in dialog.lines if line.job == job), None)


def test_a_job_of_another_program_comes_in_while_the_history_is_open(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", 50, raising=False)
    dialog = _opened(qtbot, demo_like_project)
    dialog.table.selectRow(0)
    chosen = dialog.selected().job
    readers = _readers(monkeypatch)
    # The CLI (`crisisdesk export`) on the same project: its job starts, then ends.
    with demo_like_project.open_store() as store:
        other = store.start_job("export", {"tasks": ["damage"], "format": "csv"})
    qtbot.waitUntil(lambda: _outcome(dialog, other) == "running", timeout=20_000)
    assert dialog.selected().job == chosen  # the analyst's line stays selected
    with demo_like_project.open_store() as store:
        store.finish_job(other, "done")
    qtbot.waitUntil(lambda: _outcome(dialog, other) == "done", timeout=20_000)
    assert dialog.selected().job == chosen
    assert readers and threading.main_thread() not in readers  # read off the UI thread
    dialog.reject()


def test_the_history_looks_again_when_it_is_activated(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "POLL_MS", NEVER_MS, raising=False)
    dialog = _opened(qtbot, demo_like_project)
    readers = _readers(monkeypatch)
    elsewhere = QWidget()  # the main window (another window's job runs there)
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    _active(qtbot, elsewhere)
    with demo_like_project.open_store() as store:
        other = store.start_job("predict", {"tasks": ["informative"]})
        store.finish_job(other, "done")
    _active(qtbot, dialog)  # back to the history
    qtbot.waitUntil(lambda: _outcome(dialog, other) == "done", timeout=20_000)
    assert readers and threading.main_thread() not in readers
    dialog.reject()


def test_the_selected_jobs_ran_on_is_shown_under_the_list(
        qtbot, demo_like_project: Project) -> None:
    with demo_like_project.open_store() as store:
        export = store.start_job("export", {"tasks": ["informative"], "format": "csv"})
        store.finish_job(export, "done")
        retrain = store.start_job("retrain", {"tasks": ["damage"]})
        store.finish_job(retrain, "done")
    dialog = _opened(qtbot, demo_like_project)
    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    seen: dict[int, str] = {}
    while True:  # down the list with the arrow keys, as a keyboard user goes
        line = dialog.selected()
        assert line is not None
        shown = [label for label in dialog.findChildren(QLabel)
                 if label.isVisible() and line.ran_on and line.ran_on in label.text()]
        if line.ran_on:
            assert shown, f"{line.ran_on!r} is not shown for job {line.job}"
            # A screen reader reads the same words from it.
            said = QAccessible.queryAccessibleInterface(shown[0]).text(
                QAccessible.Text.Name)
            assert line.ran_on in said, said
            seen[line.job] = line.ran_on
        row = dialog.table.currentIndex().row()
        qtbot.keyClick(dialog.table, Qt.Key.Key_Down)
        if dialog.table.currentIndex().row() == row:
            break
    assert "informative" in seen[export] and "damage" in seen[retrain], seen
    dialog.reject()
