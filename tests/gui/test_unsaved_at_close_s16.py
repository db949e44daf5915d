"""Labels not saved when the window closes (a full drive, the store gone) are never lost
unsaid: closing asks first ("Keep the window open" / "Close anyway", Esc keeps it open),
names how many and why, lists each one (item id, task, class) where it can be copied,
and writes that list beside the project so the labels can be given again. A window
whose labels were all saved closes without a question."""

from __future__ import annotations

import csv
import sqlite3
import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from test_label_not_saved_s11 import _disk_full
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.store import Store
from crisisdesk.gui.labelling import Targets
from crisisdesk.gui.main_window import MainWindow


def _focused(window: MainWindow):
    return window.detail.task_boxes[window.detail.focused_task].view


def _button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


def _a_label_not_saved(qtbot, monkeypatch, project: Project):
    """A window whose label "2" on its current item was not saved (the red bar shows);
    the window, the focused task's view and that item's row."""
    window = open_window(qtbot, project)
    settle(qtbot, window)
    view, row = _focused(window), window.current_row()
    _disk_full(monkeypatch)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert window.save_warning.isVisible()
    return window, view, row


def _listed(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_labels_given_just_before_closing_on_a_full_drive_are_asked_about(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """Given just before closing, the labels waited in the write lane; written as the
    window closed, they failed, said on stderr only: the window closed as if saved."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = _focused(window)
    first, second = window.model.row_at(0), window.model.row_at(1)
    stored = current_labels(demo_like_project, view.task)
    assert not window.save_warning.isVisible()

    _disk_full(monkeypatch)
    window.labeller.give(Targets((first,)), view.task, view.classes[0])  # in flight
    window.labeller.give(Targets((second,)), view.task, view.classes[1])  # waiting
    assert not window.close()  # refused: the question is asked first

    assert window.isVisible()
    box = window.close_question
    assert box is not None and box.isVisible()
    said = box.text() + "\n" + box.informativeText()
    assert "2 labels could not be saved" in said
    assert f"the drive holding {demo_like_project.root} is full" in said
    # Each label, plainly, where it can be copied.
    listed = box.detailedText()
    for row, cls in ((first, view.classes[0]), (second, view.classes[1])):
        assert f"{row.uid}\t{view.task}\t{cls}" in listed
    # And in a file beside the project, named in the question.
    files = list((demo_like_project.root / "exports").glob("labels-not-saved-*.csv"))
    assert len(files) == 1 and str(files[0]) in said
    rows = _listed(files[0])
    assert [(r["item"], r["task"], r["class"]) for r in rows] == [
        (first.uid, view.task, view.classes[0]), (second.uid, view.task, view.classes[1])]
    assert current_labels(demo_like_project, view.task) == stored  # truly not saved

    # Esc keeps the window open (and the red bar says what is wrong meanwhile).
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert window.isVisible()
    assert window.save_warning.isVisible()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # as the app's loop

    # Closing again asks again; "Close anyway" closes.
    assert not window.close()
    box = window.close_question
    assert box is not None and box.isVisible()
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_a_label_not_saved_earlier_is_asked_about_at_close(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """The red bar showed a label not saved; the window closed without a word."""
    window, view, row = _a_label_not_saved(qtbot, monkeypatch, demo_like_project)

    assert not window.close()
    box = window.close_question
    assert box is not None
    assert "1 label could not be saved" in box.text()
    assert f"{row.uid}\t{view.task}\t{view.classes[1]}" in box.detailedText()
    # Keyboard: the safe answer is the default, Esc's too.
    assert box.defaultButton() is box.escapeButton()
    assert box.escapeButton().text().replace("&", "") == "Keep the window open"
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_a_window_whose_labels_were_saved_closes_without_a_question(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """A failure put right (a label saved since, the labels lost dismissed) and labels
    given just before closing, saved: nothing to ask."""
    window, view, row = _a_label_not_saved(qtbot, monkeypatch, demo_like_project)
    monkeypatch.undo()  # space freed: the next label is saved, the red warning goes
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    assert not window.save_warning.failing
    window.save_warning.dismiss_button.click()  # the label lost before: forgotten
    assert not window.save_warning.isVisible()
    window.labeller.give(Targets((row,)), view.task, view.classes[2])
    assert window.close()
    assert window.close_question is None
    assert current_labels(demo_like_project, view.task)[row.id] == view.classes[2]
    assert not list((demo_like_project.root / "exports").glob("labels-not-saved-*"))


def test_a_label_write_failing_in_the_pool_as_the_window_closes_is_asked_about(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """The label's write had started in the pool when the window closed: closing waited
    for it, then dropped its report (the failure) with the pool: not even stderr said
    it."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = _focused(window)
    row = window.current_row()
    started = threading.Event()

    def add_labels(self, changes, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "add_labels", add_labels)
    window.labeller.give(Targets((row,)), view.task, view.classes[0])
    assert started.wait(30)  # written in the pool; its report not handled yet
    assert not window.close()
    box = window.close_question
    assert box is not None and "1 label could not be saved" in box.text()
    assert f"{row.uid}\t{view.task}\t{view.classes[0]}" in box.detailedText()
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_labels_behind_a_write_that_does_not_end_at_close_are_asked_about(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    """A label write held (a network share stalled) when the window closed: the labels
    waiting behind it were not written, said on stderr only."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = _focused(window)
    first, second = window.model.row_at(0), window.model.row_at(1)
    started, release = threading.Event(), threading.Event()
    add = Store.add_labels

    def held(self, changes, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(30)
        return add(self, changes, **kwargs)

    monkeypatch.setattr(Store, "add_labels", held)
    window.labeller.give(Targets((first,)), view.task, view.classes[0])
    assert started.wait(30)
    window.labeller.give(Targets((second,)), view.task, view.classes[1])
    window.labeller.flush(timeout_ms=0)  # closing's wait, run out
    try:
        assert not window.close()
        box = window.close_question
        assert box is not None and "2 labels could not be saved" in box.text()
        listed = box.detailedText()
        assert f"{second.uid}\t{view.task}\t{view.classes[1]}" in listed
        assert f"{first.uid}\t{view.task}\t{view.classes[0]}" in listed  # not known
        assert "check whether it was saved" in _listed(next(
            (demo_like_project.root / "exports").glob("labels-not-saved-*.csv")))[0]["note"]
    finally:
        release.set()
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_closed_after_the_app_quit_the_list_is_kept_and_the_window_closes(
        qtbot, monkeypatch, capfd, demo_like_project: Project) -> None:
    """The app closes its window once its loop has ended (app.main): no one can answer
    a question then. The window closes (its jobs and calls stopped), the list kept."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    view = _focused(window)
    row = window.current_row()
    _disk_full(monkeypatch)
    window.labeller.give(Targets((row,)), view.task, view.classes[0])
    QApplication.instance().aboutToQuit.emit()
    assert window.close()
    assert window.close_question is None
    listed = next((demo_like_project.root / "exports").glob("labels-not-saved-*.csv"))
    assert _listed(listed)[0]["item"] == row.uid
    assert str(listed) in capfd.readouterr().err
