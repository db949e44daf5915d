"""Session 16's changes read again: a killed job's record is put right off the UI thread
when the app opens its project (it opened the store there, and waited up to 30 s for
another program's write lock with the window not yet painted), and the retrain report's
Esc-over-tooltips watch goes with the report however the report goes."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from shiboken6 import delete
from window_helpers import open_in_app

from crisisdesk.core import job_locks
from crisisdesk.core.project import Project


def _killed_job(root: Path) -> int:
    """A job recorded as running whose process is gone: its lock file there, unheld."""
    project = Project.open(root, create=True)
    with project.open_store() as store:
        job = store.start_job("caption", {})
    (root / job_locks.LOCKS).mkdir(parents=True, exist_ok=True)
    (root / job_locks.LOCKS / f"{job}.lock").write_text("", encoding="utf-8")
    return job


def test_the_app_marks_a_killed_job_off_the_ui_thread(qtbot, tmp_path, monkeypatch) -> None:
    root = tmp_path / "project"
    job = _killed_job(root)
    threads: list[bool] = []
    store_class = job_locks.Store

    def store(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return store_class(*args, **kwargs)

    monkeypatch.setattr(job_locks, "Store", store)
    opener = open_in_app(qtbot, root, timeout=30_000)
    opener.shutdown()
    assert threads and not any(threads), threads  # opened, and never on the UI thread
    with Project.open(root).open_store() as opened:
        assert opened.job(job)["state"] == "failed"


def test_a_report_deleted_while_shown_stops_the_watch(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QDialog, QWidget

    from crisisdesk.gui.dialogs import figure_notes
    from crisisdesk.gui.dialogs.figure_notes import esc_closes_tooltips

    class Report(QDialog):  # as the retrain report: watched while shown
        def showEvent(self, event) -> None:  # noqa: N802
            super().showEvent(event)
            esc_closes_tooltips(self, True)

        def hideEvent(self, event) -> None:  # noqa: N802
            esc_closes_tooltips(self, False)
            super().hideEvent(event)

    seen: list[int] = []
    filter_of_the_app = figure_notes._EscClosesNote.eventFilter

    def spy(self, watched, event) -> bool:
        seen.append(event.type())
        return filter_of_the_app(self, watched, event)

    # Before the watch is made: PySide looks a Python override up once per object.
    monkeypatch.setattr(figure_notes._EscClosesNote, "eventFilter", spy)
    monkeypatch.setattr(figure_notes, "_esc_closes_note", None)
    other = QWidget()
    qtbot.addWidget(other)
    report = Report()
    report.show()
    qtbot.waitExposed(report)
    QCoreApplication.processEvents()
    assert seen  # watching while the report shows
    # Deleted while shown (a parent deleted with it): no hideEvent of ours runs in a
    # C++ destructor.
    delete(report)
    for _ in range(3):
        other.update()
        QCoreApplication.processEvents()
    seen.clear()
    other.show()
    qtbot.waitExposed(other)
    QCoreApplication.processEvents()
    # The watch no longer looks at every event of the application (a Python call each).
    assert seen == []
