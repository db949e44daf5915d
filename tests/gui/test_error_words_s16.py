"""Errors the analyst reads outside the jobs panel, without Python's class name.

The import, export and retrain dialogs' status lines, the main window's status bar and
message boxes, and every other place a failed background call or job is said, read
"OSError: [Errno 28] No space left on device" or "ValueError: ...": the class name is
jargon to an analyst (the jobs panel already said the message alone). It stays where an
engineer looks: a failed job's traceback (the dialog's status tooltip, the jobs panel's
Details…) and the log for a failed background call.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path

from import_helpers import build_posts_folder
from PySide6.QtWidgets import QMessageBox
from window_helpers import open_window, settle

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import export_dialog, import_dialog, retrain_dialog
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.worker import Background, JobRunner


def _full() -> OSError:
    """A full drive's error, new at each raise: one instance raised again keeps the
    traceback of every raise before (other threads' frames, a test's Background with
    them), and clearing those frames in a job thread let go of Qt objects there."""
    return OSError(errno.ENOSPC, "No space left on device")


def _finished(qtbot, runner: JobRunner) -> tuple[str, object]:
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        if runner.state == "pending":
            runner.start()
    return blocker.args[0], blocker.args[1]


def _called(qtbot, fn) -> str:
    """What a failed Background call hands its on_error."""
    background = Background()
    with qtbot.waitCallback() as errored:
        background.call(fn, lambda _value: None, errored)
    background.shutdown()
    return errored.args[0]


def _raise(exc: BaseException):
    def fn(*_args):
        raise exc
    return fn


# ------------------------------------------------------------------ the messages themselves


def test_a_failed_background_call_says_the_message_without_the_class(qtbot, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="crisisdesk.gui.background"):
        message = _called(qtbot, _raise(_full()))
    assert "No space left on device" in message and "OSError" not in message, message
    assert "OSError" in caplog.text  # kept for an engineer: the log has the traceback


def test_a_failed_background_call_with_no_message_names_the_error(qtbot) -> None:
    message = _called(qtbot, _raise(ValueError()))
    assert "ValueError" in message and "no message" in message, message


def test_a_key_error_of_a_background_call_reads_without_its_quotes(qtbot) -> None:
    message = _called(qtbot, _raise(KeyError("no item 5")))
    assert message == "no item 5"


def test_a_failed_job_says_the_message_and_keeps_the_class_in_its_details(qtbot) -> None:
    def body() -> Iterator[Progress]:
        yield Progress(1, 3)
        raise _full()

    runner = JobRunner("fails", body)
    state, message = _finished(qtbot, runner)
    assert state == "failed"
    assert "No space left on device" in str(message) and "OSError" not in str(message)
    assert runner.error == message
    assert "OSError" in runner.details and isinstance(runner.exception, OSError)


# ------------------------------------------------------------------ where the analyst reads them


class _FullDriveJob:
    """An import or export that stops on a full drive."""

    def __init__(self, *_args, **_kwargs) -> None:
        self.report = None

    def run(self) -> Iterator[Progress]:
        yield Progress(0, 6, "reading")
        raise _full()

    def __iter__(self) -> Iterator[Progress]:
        return self.run()


def failed_export(qtbot, project: Project, tmp_path: Path, monkeypatch) -> ExportDialog:
    """The export dialog once its export stopped on a full drive."""
    monkeypatch.setattr(export_dialog, "ExportJob", _FullDriveJob)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.out.setText(str(tmp_path / "x.csv"))
    state, _ = _finished(qtbot, dialog.start_export())
    assert state == "failed"
    return dialog


def test_the_export_dialog_says_why_without_the_class(qtbot, demo_like_project,
                                                      tmp_path: Path, monkeypatch) -> None:
    dialog = failed_export(qtbot, demo_like_project, tmp_path, monkeypatch)
    shown = dialog.status.text()
    assert "Export failed" in shown and "No space left on device" in shown, shown
    assert "OSError" not in shown, shown
    assert "OSError" in dialog.status.toolTip()  # the traceback, for an engineer


def test_the_import_dialog_says_why_without_the_class(qtbot, project: Project, tmp_path,
                                                      monkeypatch) -> None:
    monkeypatch.setattr(import_dialog, "ImportJob", _FullDriveJob)
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(build_posts_folder(tmp_path / "posts"))
    dialog.format.setCurrentIndex(dialog.format.findData("folder"))
    runner = dialog.start_import()
    state, _ = _finished(qtbot, runner)
    assert state == "failed"
    shown = dialog.status.text()
    assert "Import failed" in shown and "No space left on device" in shown, shown
    assert "OSError" not in shown, shown
    assert "OSError" in dialog.status.toolTip()


def test_a_message_box_from_a_failed_call_says_why_without_the_class(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(retrain_dialog, "saved_report",
                        _raise(OSError(errno.EIO, "Input/output error")))
    window = open_window(qtbot, demo_like_project)
    window.actions_.last_retrain.trigger()
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)),
                    timeout=20_000)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert "Input/output error" in box.text() and "OSError" not in box.text(), box.text()
    box.button(QMessageBox.StandardButton.Close).click()
    settle(qtbot, window)
