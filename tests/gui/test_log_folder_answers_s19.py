"""Help > Show log folder… with the log's folder on a drive that hangs, and after the
log's queue overflowed once (session 19).

Before: the folder was handed to the file manager on the UI thread, and Qt touches the
path there (in a Flatpak or Snap it opens the folder to hand it to the desktop portal;
Windows' ShellExecute resolves it): a network drive that stopped answering froze the
window. And once the log's queue had overflowed, Help said so for the rest of the
session, even after the drive answered and the lines were written again.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from test_job_log_s17 import log  # noqa: F401 - the fixture, used by name

from crisisdesk.core import app_log
from crisisdesk.gui import log_folder


def log_folder_box(qtbot) -> QMessageBox:
    """The Log folder box Help shows once the folder answered without opening."""
    def shown() -> list[QMessageBox]:
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)
                and w.windowTitle() == log_folder.TITLE and w.isVisible()]

    qtbot.waitUntil(lambda: bool(shown()))
    [box] = shown()
    return box


def test_a_log_folder_that_does_not_answer_is_waited_for_off_the_ui_thread(
        qtbot, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answering = threading.Event()
    looked_at_on_the_ui_thread: list[bool] = []
    stat = os.stat

    def hung_drive(path, *args, **kwargs):
        if Path(path) == log.parent:
            looked_at_on_the_ui_thread.append(
                threading.current_thread() is threading.main_thread())
            answering.wait(5)  # bounded: a failing test must end
        return stat(path, *args, **kwargs)

    opened: list[tuple[Path, bool]] = []
    monkeypatch.setattr(os, "stat", hung_drive)
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl", lambda url: opened.append(
        (Path(url.toLocalFile()), threading.current_thread() is threading.main_thread()))
        or True)
    assert log_folder.show_log_folder(None) is None
    # Nothing handed to the file manager (which would wait on the UI thread) yet.
    assert opened == []
    qtbot.waitUntil(lambda: bool(looked_at_on_the_ui_thread))
    answering.set()
    qtbot.waitUntil(lambda: bool(opened))
    assert opened == [(log.parent, True)]  # Qt's desktop services: on the UI thread
    assert not any(looked_at_on_the_ui_thread)


def test_where_the_folder_answers_but_no_file_manager_opens_the_path_is_said(
        qtbot, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl", lambda url: False)
    assert log_folder.show_log_folder(None) is None
    box = log_folder_box(qtbot)
    assert str(log.parent) in box.text()
    box.close()


def test_once_the_log_is_written_again_help_opens_its_folder(
        qtbot, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue overflowed while the drive hung; the drive answers, lines are written:
    the problem is over, and Help opens the folder instead of saying it."""
    monkeypatch.setattr(app_log, "MAX_WAITING", 5)
    app_log.stop_log()  # started again with the small queue
    answering = threading.Event()
    emit = app_log._LogFile.emit

    def hung(self: app_log._LogFile, record: logging.LogRecord) -> None:
        answering.wait(10)
        emit(self, record)

    monkeypatch.setattr(app_log._LogFile, "emit", hung)
    assert app_log.start_log() == log
    for i in range(40):
        logging.getLogger("crisisdesk.test").info("line %d", i)
    assert app_log.log_problem() is not None  # the overflow, said
    answering.set()  # the drive answers again
    assert app_log.flush_log()
    assert app_log.log_problem() is None
    logging.getLogger("crisisdesk.test").info("after it answered")
    opened: list[Path] = []
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl",
                        lambda url: opened.append(Path(url.toLocalFile())) or True)
    log_folder.show_log_folder(None)
    qtbot.waitUntil(lambda: bool(opened))
    assert opened == [log.parent]
    app_log.stop_log()
    text = log.read_text("utf-8")
    # The engineer reading it learns that lines are missing, and why.
    assert "after it answered" in text and "not being written" in text
