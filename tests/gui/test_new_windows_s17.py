"""Today's new windows looked at as an analyst does: Ctrl+J reaching a done Retrain's
Report…, messages holding "<" said whole in the rich-text labels, and the job history's
messages readable with large text (wide enough, rows tall enough for their lines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication
from test_keyboard_hunt import _active
from test_large_text_s14 import large_font  # noqa: F401 - the fixture, used by name
from window_helpers import open_window, settle

from crisisdesk.core.job_locks import INTERRUPTED
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.gui import screen_fit
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog, job_line
from crisisdesk.gui.dialogs.retrain_headline import headline
from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog


#: A message a tokenizer or a CSV check may well give: "<unk>" and "a < b" vanished.
ANGLED = "token <unk> not in the vocabulary (ids < 0 or >= 30522)"


def _plain(html: str) -> str:
    """What a rich-text label shows of ``html``."""
    document = QTextDocument()
    document.setHtml(html)
    return document.toPlainText()


# ---------------------------------------------------------------------- Ctrl+J

def test_ctrl_j_reaches_a_done_retrains_report_button(
        qtbot, demo_like_project: Project) -> None:
    """Ctrl+J gave the keys to Clear finished, past the Report… of a done Retrain: its
    report could be opened again by mouse only."""
    window = open_window(qtbot, demo_like_project)
    _active(qtbot, window)
    jobs = window.actions_.jobs
    opened: list[bool] = []

    def retrain() -> Iterator[Progress]:
        yield Progress(1, 1, "done", "cpu")

    with qtbot.waitSignal(jobs.job_finished, timeout=10_000):
        runner = jobs.run("Retrain", retrain)
    row = jobs.row_of(runner)
    row.offer_report(lambda: opened.append(True))
    assert row.report.isVisibleTo(row)
    qtbot.keyClick(window.items, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is row.report
    qtbot.keyClick(row.report, Qt.Key.Key_Space)
    assert opened == [True]
    settle(qtbot, window)


# ---------------------------------------------------------------------- "<" in messages

def test_a_retrain_skipped_for_a_reason_with_angle_brackets_says_it_whole() -> None:
    for entry in (TaskRetrain("damage", skipped=ANGLED),
                  TaskRetrain("damage", skipped=ANGLED, candidate=7,
                              candidate_name="damage-v7", holdout=30)):
        said = _plain(headline(entry))
        assert ANGLED in said, said


def test_the_versions_window_says_a_load_error_with_angle_brackets_whole(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    from crisisdesk.core.fusion import versions

    def broken(store, task):
        raise ValueError(ANGLED)

    monkeypatch.setattr(versions, "summarise_versions", broken)
    dialog = VersionsDialog(demo_like_project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "vocabulary" in dialog.status.text(), timeout=10_000)
    assert ANGLED in _plain(dialog.status.text()), dialog.status.text()


# ---------------------------------------------------------------------- the history

def test_the_history_keeps_its_messages_readable_with_large_text(
        qtbot, large_font, demo_like_project: Project, monkeypatch) -> None:
    """At 1.5x the history opened 900 pixels wide as at 1x: the four short columns took
    700 of them, the message wrapped to five lines of two words in 190 pixels, and rows
    sized before the columns settled (or the window made narrower) cut it off."""
    monkeypatch.setattr(screen_fit, "available_area", lambda window: QRect(0, 0, 1366, 728))
    with demo_like_project.open_store() as store:
        failed = store.start_job("import-embeddings", {})
        store.finish_job(failed, "failed", "ValueError: row 14 of vectors.csv: expected "
                                           "512 numbers, found 511 in the line of item 3")
        gone = store.start_job("caption", {})
        store.finish_job(gone, "failed", INTERRUPTED)
        count = len(store.jobs_page())
    dialog = JobHistoryDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.show()
    table = dialog.table
    qtbot.waitUntil(lambda: table.rowCount() == count and dialog.refresh.isEnabled(),
                    timeout=20_000)
    QApplication.processEvents()  # the columns settle on their contents
    assert dialog.width() <= 1366 - screen_fit.FRAME.width()
    message = table.horizontalHeader().sectionSize(4)
    assert message >= 40 * table.fontMetrics().averageCharWidth(), (message, dialog.width())
    assert _rows_fit(table)
    dialog.resize(dialog.width() - 300, dialog.height())  # made narrower: lines rewrap
    qtbot.waitUntil(lambda: _rows_fit(table), timeout=3000)


def _rows_fit(table) -> bool:
    """Whether each row of ``table`` is as tall as its message needs at the column's
    width."""
    return all(table.rowHeight(row) >= table.sizeHintForRow(row)
               for row in range(table.rowCount()))


def test_an_interrupted_jobs_message_keeps_its_capitals() -> None:
    """It read "(killed, crashed, or the computer went down). what it finished is kept":
    capitalize() lowered every letter after the first."""
    row = {"id": 3, "kind": "caption", "state": "failed", "error": INTERRUPTED,
           "started_at": "2026-11-28T16:38:00+00:00", "finished_at": None,
           "done": 0, "total": 0, "problems": 0}
    line = job_line(row, datetime.now(UTC))
    assert line.outcome == "interrupted"
    assert line.message[0].isupper() and INTERRUPTED.endswith(line.message[1:]), line.message


def test_an_interrupted_job_says_no_time_taken() -> None:
    """Its end is when the next open noticed it: a job killed in March read as having
    taken 15,296 hours."""
    row = {"id": 4, "kind": "caption", "state": "failed", "error": INTERRUPTED,
           "started_at": "2025-03-01T10:00:00.000Z", "finished_at": "2026-11-28T16:38:00.000Z",
           "done": 3, "total": 9, "problems": 0}
    assert job_line(row, datetime.now(UTC)).took == "–"
    row |= {"error": "OSError: disk full"}  # a failure said by the job itself: it took that
    assert job_line(row, datetime.now(UTC)).took != "–"
