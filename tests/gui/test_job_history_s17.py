"""Jobs > History…: the project's past jobs from its jobs table, newest first, in plain
words, read off the UI thread a page at a time; any finished retrain's line opens its own
report; and a done Retrain row of the jobs panel opens its report again (Report…)."""

from __future__ import annotations

import threading
from dataclasses import asdict
from pathlib import Path

from PySide6.QtWidgets import QMessageBox
from test_job_records_s17 import two_retrains
from test_retrain import FAST, _project
from window_helpers import open_window, settle

from crisisdesk.core import retrain
from crisisdesk.core.job_locks import INTERRUPTED
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.gui.dialogs import job_history
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog
from crisisdesk.gui.main_window import MainWindow


def _history(qtbot, window: MainWindow, rows: int) -> JobHistoryDialog:
    jobs = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Jobs")
    assert window.actions_.history in jobs.actions()
    window.actions_.history.trigger()
    dialog = next(d for d in window.findChildren(JobHistoryDialog) if d.isVisible())
    qtbot.waitUntil(lambda: dialog.table.rowCount() == rows and dialog.refresh.isEnabled(),
                    timeout=20_000)
    return dialog


def _cells(dialog: JobHistoryDialog, column: int) -> list[str]:
    return [dialog.table.item(row, column).text() for row in range(dialog.table.rowCount())]


def _select(dialog: JobHistoryDialog, job: int) -> None:
    dialog.table.selectRow(next(i for i, line in enumerate(dialog.lines) if line.job == job))


def _visible_report(qtbot, window: MainWindow, job: int) -> RetrainDialog:
    qtbot.waitUntil(lambda: any(d.isVisible() and d.property("job") == job
                                for d in window.findChildren(RetrainDialog)), timeout=20_000)
    return next(d for d in window.findChildren(RetrainDialog)
                if d.isVisible() and d.property("job") == job)


def test_the_history_says_each_job_newest_first_in_plain_words(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    with demo_like_project.open_store() as store:
        failed = store.start_job("embed", {})
        store.finish_job(failed, "failed", "OSError: [Errno 5] Input/output error")
        gone = store.start_job("caption", {})
        store.finish_job(gone, "failed", INTERRUPTED)
        stopped = store.start_job("predict", {})
        store.update_job(stopped, done=3, total=10)
        store.finish_job(stopped, "cancelled")
        store.start_job("media-fetch", {})  # running (in another window)
        count = len(store.jobs_page())
    readers: list[threading.Thread] = []
    real = job_history.read_page

    def read(project, before):
        readers.append(threading.current_thread())
        return real(project, before)

    monkeypatch.setattr(job_history, "read_page", read)
    window = open_window(qtbot, demo_like_project)
    dialog = _history(qtbot, window, count)
    assert readers and threading.main_thread() not in readers  # read off the UI thread
    assert _cells(dialog, 3)[:5] == ["running", "cancelled", "interrupted", "failed", "done"]
    what, messages = _cells(dialog, 0), _cells(dialog, 4)
    assert what[:4] == ["Fetch of images", "Predict", "Caption images",
                        "Embed images and texts"]
    assert what[4] == "Import"  # the fixture's import
    assert "Input/output error" in messages[3], messages[3]
    assert "OSError" not in messages[3] and "Errno" not in messages[3], messages[3]
    assert "3 of 10" in messages[1] and "stopped before the job ended" in messages[2]
    assert "so far" in _cells(dialog, 2)[0]
    _select(dialog, failed)
    assert not dialog.report.isEnabled()  # only a finished retrain has a report
    dialog.reject()
    settle(qtbot, window)


def test_a_project_of_many_jobs_is_read_a_page_at_a_time(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(job_history, "PAGE", 7)
    with demo_like_project.open_store() as store:
        for _ in range(10):
            store.finish_job(store.start_job("export", {}), "done")
        ids = [row["id"] for row in store.jobs_page(limit=100)]
    window = open_window(qtbot, demo_like_project)
    dialog = _history(qtbot, window, 7)
    assert dialog.older.isEnabled()
    dialog.older.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(ids), timeout=20_000)
    assert [line.job for line in dialog.lines] == ids  # newest first, none twice
    assert not dialog.older.isEnabled()
    dialog.reject()
    settle(qtbot, window)


def test_an_older_retrains_line_opens_its_own_report(qtbot, tmp_path: Path) -> None:
    project, first, second = two_retrains(tmp_path)
    with project.open_store() as store:
        count = len(store.jobs_page())
    window = open_window(qtbot, project)
    dialog = _history(qtbot, window, count)
    _select(dialog, first.job)
    assert dialog.report.isEnabled()
    dialog.report.click()
    report = _visible_report(qtbot, window, first.job)
    assert "an earlier retrain" in report.made.text()
    assert asdict(report.report) == asdict(first.report)  # its own, not the newest
    assert asdict(first.report) != asdict(second.report)
    # Asked for again while open: raised, not a second one.
    dialog.report.click()
    settle(qtbot, window)
    assert [d for d in window.findChildren(RetrainDialog) if d.isVisible()] == [report]
    report.reject()
    _select(dialog, second.job)
    dialog.open_report()  # as a double-click does
    newest = _visible_report(qtbot, window, second.job)
    assert "the last retrain" in newest.made.text()
    newest.reject()
    dialog.reject()
    settle(qtbot, window)


def test_a_done_retrain_row_opens_its_report_again(qtbot, tmp_path: Path,
                                                  monkeypatch) -> None:
    project = _project(tmp_path, n=120)
    real_init = RetrainJob.__init__

    def small(self, project, tasks=None, **kwargs):
        real_init(self, project, ["damage"], image_encoder="img-enc",
                  text_encoder="txt-enc", recipe=FAST)

    monkeypatch.setattr(retrain.RetrainJob, "__init__", small)
    window = open_window(qtbot, project)
    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=120_000) as finished:
        window.actions_.retrain.trigger()
    assert finished.args == ["Retrain", "done"]
    row = jobs.rows[0]
    with project.open_store() as store:
        job = store.last_job("retrain")["id"]
    first = _visible_report(qtbot, window, job)  # opened by itself at the end
    first.reject()  # Esc, or Keep by accident
    qtbot.waitUntil(lambda: not first.isVisible())
    assert row.report.isVisibleTo(row)
    row.report.click()
    again = _visible_report(qtbot, window, job)
    assert again is not first and "the last retrain" in again.made.text()
    again.reject()
    assert not any(b.isVisible() for b in window.findChildren(QMessageBox))
    settle(qtbot, window)
