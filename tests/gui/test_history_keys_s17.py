"""Jobs > History… worked from the keyboard and with a screen reader: Tab stayed in the
list of jobs (its buttons out of reach), Enter on a retrain's line closed the window in
place of opening its report, Show older jobs and Refresh left the keys on Close, what a
job ran on was told by a mouse's tooltip only, a failed read was shown but not said; and
a note at the top of the main window ("Project upgraded") was never said at all.

Read through Qt's accessibility interface, as a screen reader reads the app; what is
announced is caught where the app hands it to Qt (the ``heard`` fixture)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QMessageBox
from test_job_log_s17 import log  # noqa: F401 - the fixture, used by name
from test_keyboard_hunt import _active
from test_log_folder_answers_s19 import log_folder_box
from test_screen_reader_s14 import heard  # noqa: F401 - the fixture, used by name
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.gui import log_folder
from crisisdesk.gui.dialogs import job_history
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog
from crisisdesk.gui.launch_notice import show_launch_notice


def _jobs(project: Project) -> tuple[int, int]:
    """A finished retrain, then a finished export after it; their jobs rows."""
    with project.open_store() as store:
        retrain = store.start_job("retrain", {"tasks": ["damage"]})
        store.finish_job(retrain, "done")
        export = store.start_job("export", {"tasks": ["informative"], "format": "csv"})
        store.finish_job(export, "done")
    return retrain, export


def _opened(qtbot, project: Project, rows: int) -> JobHistoryDialog:
    """The history, shown and active, its ``rows`` lines read; the keys on its list."""
    dialog = JobHistoryDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    _active(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == rows and dialog.refresh.isEnabled(),
                    timeout=20_000)
    dialog.table.setFocus()
    return dialog


def _down_to(qtbot, dialog: JobHistoryDialog, job: int) -> None:
    """Move down the list with the arrow keys from its first line to the line of ``job``."""
    qtbot.keyClick(dialog.table, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    while dialog.selected() is None or dialog.selected().job != job:
        row = dialog.table.currentIndex().row()
        qtbot.keyClick(dialog.table, Qt.Key.Key_Down)
        assert dialog.table.currentIndex().row() > row, "the line is not in the list"


def test_tab_leaves_the_list_for_the_report_and_the_other_buttons(
        qtbot, demo_like_project: Project) -> None:
    """Tab went from cell to cell of the list: Report…, Show older jobs, Refresh and
    Close could not be reached from the keyboard."""
    retrain, _export = _jobs(demo_like_project)
    dialog = _opened(qtbot, demo_like_project, 3)
    _down_to(qtbot, dialog, retrain)
    reached = []
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    assert reached[0] is dialog.report
    assert dialog.refresh in reached
    assert any(getattr(w, "text", lambda: "")() == "Close" for w in reached)
    dialog.reject()


def test_enter_on_a_retrains_line_opens_its_report_and_never_closes_the_window(
        qtbot, demo_like_project: Project) -> None:
    """Enter on a line clicked Close (the window's default button): the history closed,
    no report opened; Enter on Refresh closed it too."""
    retrain, export = _jobs(demo_like_project)
    dialog = _opened(qtbot, demo_like_project, 3)
    asked: list[int] = []
    dialog.report_wanted.connect(asked.append)
    _down_to(qtbot, dialog, retrain)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert asked == [retrain] and dialog.isVisible()
    _down_to(qtbot, dialog, export)  # no report: Enter does nothing, says nothing
    qtbot.keyClick(dialog.table, Qt.Key.Key_Enter)
    assert asked == [retrain] and dialog.isVisible()
    dialog.refresh.setFocus()
    qtbot.keyClick(dialog.refresh, Qt.Key.Key_Return)
    assert dialog.isVisible()
    qtbot.waitUntil(dialog.refresh.isEnabled, timeout=20_000)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Escape)  # Esc closes it, from the list too
    assert not dialog.isVisible()


def test_show_older_jobs_and_refresh_leave_the_keys_on_the_list(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    """Space on Show older jobs or Refresh disabled the button under the keys: they fell
    to Close, and the next Space closed the window; the older lines came in unsaid."""
    monkeypatch.setattr(job_history, "PAGE", 2)
    retrain, export = _jobs(demo_like_project)  # with the fixture's import: 3 jobs
    dialog = _opened(qtbot, demo_like_project, 2)
    dialog.older.setFocus()
    qtbot.keyClick(dialog.older, Qt.Key.Key_Space)
    assert QApplication.focusWidget() is dialog.table
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3 and dialog.refresh.isEnabled(),
                    timeout=20_000)
    # On the first of the older lines: the arrows go on from there, and it is said.
    assert dialog.table.currentIndex().row() == 2 and dialog.selected() is dialog.lines[2]
    _down_to(qtbot, dialog, retrain)
    dialog.refresh.setFocus()
    qtbot.keyClick(dialog.refresh, Qt.Key.Key_Space)
    assert QApplication.focusWidget() is dialog.table
    qtbot.waitUntil(dialog.refresh.isEnabled, timeout=20_000)
    assert dialog.isVisible() and dialog.selected().job == retrain
    assert dialog.table.currentIndex().row() == dialog.lines.index(dialog.selected())
    dialog.reject()


def test_a_screen_reader_says_what_each_job_ran_on(qtbot, demo_like_project: Project
                                                   ) -> None:
    """"Ran on: tasks informative" was in the cells' tooltips only: the mouse's."""
    _retrain, export = _jobs(demo_like_project)
    dialog = _opened(qtbot, demo_like_project, 3)
    row = next(i for i, line in enumerate(dialog.lines) if line.job == export)
    table = QAccessible.queryAccessibleInterface(dialog.table)
    cells = [table.child(i) for i in range(table.childCount())]
    said = [cell.text(QAccessible.Text.Description) for cell in cells
            if cell.role() == QAccessible.Role.Cell
            and cell.text(QAccessible.Text.Name) == dialog.table.item(row, 0).text()]
    assert said and all(dialog.lines[row].ran_on in words for words in said), said
    assert "informative" in dialog.lines[row].ran_on
    dialog.reject()


def test_a_history_that_cannot_be_read_says_so(
        qtbot, demo_like_project: Project, monkeypatch, heard) -> None:
    """Refresh pressed, the read failed: the line above the list said so, a screen
    reader (on the list) said nothing."""
    dialog = _opened(qtbot, demo_like_project, 1)

    def broken(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(job_history, "read_page", broken)
    heard.clear()
    dialog.refresh.click()
    qtbot.waitUntil(lambda: "could not be read" in dialog.status.text(), timeout=20_000)
    assert [text for text, _ in heard] == [dialog.status.text()]
    dialog.reject()


def test_the_project_upgraded_note_is_said(qtbot, demo_like_project: Project, heard
                                          ) -> None:
    """The note comes at the top of the window while the keys stay on the list: a
    screen reader never said that the project was upgraded (nor any other note)."""
    window = open_window(qtbot, demo_like_project)
    heard.clear()
    text = "This project was upgraded: older versions of the app can no longer open it."
    notice = show_launch_notice(window, text, name="Project upgraded",
                                close_name="Close the note on the upgrade")
    assert (f"Project upgraded: {text}", notice) in heard, heard
    assert QApplication.focusWidget() is window.items  # the keys are left where they were
    settle(qtbot, window)


def test_the_log_folders_path_can_be_copied_from_the_keyboard(qtbot, log, monkeypatch
                                                              ) -> None:
    """No file manager opened: the box said the path "to be copied into an e-mail", but
    only a mouse could select it (Tab never reaches the text; Ctrl+C copies the box on
    Windows only)."""
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl", lambda url: False)
    log_folder.show_log_folder(None)
    box = log_folder_box(qtbot)  # once the folder answered (session 19)
    QApplication.clipboard().clear()
    copy = next(button for button in box.buttons()
                if button.focusPolicy() & Qt.FocusPolicy.TabFocus
                and box.buttonRole(button) != QMessageBox.ButtonRole.AcceptRole)
    copy.setFocus()
    qtbot.keyClick(copy, Qt.Key.Key_Space)
    assert QApplication.clipboard().text() == str(log.parent)
    box.close()
    log_folder.show_log_folder(None)
    again = log_folder_box(qtbot)
    again.activateWindow()
    qtbot.waitUntil(again.isActiveWindow)
    qtbot.keyClick(again, Qt.Key.Key_Escape)  # Esc still closes it
    assert not again.isVisible()
