"""Labels lost while the store failed are kept once saving works again.

The red bar went, and the list of labels not saved was cleared, with the first label
saved after the failure: the bar had said "give them again" without saying which, and
closing no longer asked. Now the bar turns into a calm note naming how many, with Show
them, Save them now (one undo step, skipping items labelled since) and Dismiss; closing
still asks while any are kept.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QPlainTextEdit
from test_label_not_saved_s11 import _disk_full
from test_unsaved_at_close_s16 import _button, _focused
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.gui.labelling import Targets
from crisisdesk.gui.unsaved_labels import listing


def _lost_then_saved(qtbot, monkeypatch, project: Project, lost: int):
    """A window whose labels on rows 0..lost-1 failed (a full drive), then a label on the
    next row was saved (space freed): the window, the task's view, the rows lost, the
    labels stored before the failure."""
    window = open_window(qtbot, project)
    settle(qtbot, window)
    view = _focused(window)
    rows = [window.model.row_at(n) for n in range(lost + 1)]
    stored = current_labels(project, view.task)
    _disk_full(monkeypatch)
    for n, row in enumerate(rows[:lost]):
        window.labeller.give(Targets((row,)), view.task, view.classes[n % 2])
    settle(qtbot, window)
    assert window.save_warning.failing
    monkeypatch.undo()  # space freed
    window.labeller.give(Targets((rows[lost],)), view.task, view.classes[2])
    settle(qtbot, window)
    return window, view, rows[:lost], stored


def _button_of(bar, text: str):
    return next(b for b in bar.buttons if b.text().replace("&", "") == text)


def test_labels_lost_before_a_save_stay_listed_in_a_calm_note_and_at_close(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window, view, lost, _ = _lost_then_saved(qtbot, monkeypatch, demo_like_project, 2)
    bar = window.save_warning
    assert not bar.failing  # saving works again: no longer the red warning
    assert bar.isVisible()
    assert "2 labels given while saving failed were not saved" in bar.text()
    assert len(window.labeller.unsaved) == 2
    # Each button reachable from the keyboard (its Alt key), and named for a reader.
    for button in bar.buttons:
        assert button.isVisible() and not button.shortcut().isEmpty()
        assert button.shortcut().matches(QKeySequence("Alt+" + button.text().split(
            "&")[1][0])) == QKeySequence.SequenceMatch.ExactMatch
    assert bar.accessibleName() and "2 labels" in bar.accessibleDescription()
    # The labels keys go on to the list: the note took no focus.
    assert window.focusWidget() is window.items

    assert not window.close()  # still asked about
    box = window.close_question
    assert box is not None
    for n, row in enumerate(lost):
        assert f"{row.uid}\t{view.task}\t{view.classes[n % 2]}" in box.detailedText()
    _button(box, "Close anyway").click()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_save_them_now_gives_them_again_as_one_step_skipping_items_labelled_since(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window, view, lost, stored = _lost_then_saved(qtbot, monkeypatch, demo_like_project, 3)
    said: list[str] = []
    window.labeller.message.connect(said.append)
    # The second item was labelled again since (by this analyst, after the fix).
    window.labeller.give(Targets((lost[1],)), view.task, view.classes[2])
    settle(qtbot, window)

    _button_of(window.save_warning, "Save them now").click()
    settle(qtbot, window)
    labels = current_labels(demo_like_project, view.task)
    assert labels[lost[0].id] == view.classes[0]
    assert labels[lost[2].id] == view.classes[0]
    assert labels[lost[1].id] == view.classes[2]  # its newer label kept
    assert "2 labels saved" in said[-1] and "1 skipped" in said[-1]
    assert "labelled again since" in said[-1]
    assert window.labeller.unsaved == []
    assert not window.save_warning.isVisible()

    window.labeller.undo()  # one step takes both back
    settle(qtbot, window)
    labels = current_labels(demo_like_project, view.task)
    assert labels.get(lost[0].id) == stored.get(lost[0].id)
    assert labels.get(lost[2].id) == stored.get(lost[2].id)
    assert labels[lost[1].id] == view.classes[2]
    assert window.close()  # nothing left to ask about


def test_save_them_now_failing_again_keeps_the_list_once(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window, _, _, _ = _lost_then_saved(qtbot, monkeypatch, demo_like_project, 1)
    kept = list(window.labeller.unsaved)
    _disk_full(monkeypatch)
    _button_of(window.save_warning, "Save them now").click()
    settle(qtbot, window)
    assert window.save_warning.failing  # red again
    assert window.labeller.unsaved == kept  # not listed twice


def test_show_them_lists_them_and_dismiss_forgets_them(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window, _, lost, _ = _lost_then_saved(qtbot, monkeypatch, demo_like_project, 2)
    bar = window.save_warning
    _button_of(bar, "Show them").click()
    shown = bar.shown_list
    assert shown is not None and shown.isVisible()
    text = shown.findChild(QPlainTextEdit).toPlainText()
    assert listing(window.labeller.unsaved) in text  # as the close question lists them
    assert all(row.uid in text for row in lost)
    shown.close()

    _button_of(bar, "Dismiss").click()
    assert window.labeller.unsaved == []
    assert not bar.isVisible()
    assert window.close()
    assert window.close_question is None


def test_a_label_failing_while_the_note_shows_turns_it_red_again(
        qtbot, monkeypatch, demo_like_project: Project) -> None:
    window, view, _, _ = _lost_then_saved(qtbot, monkeypatch, demo_like_project, 1)
    _disk_full(monkeypatch)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    bar = window.save_warning
    assert bar.failing and "was not saved" in bar.text()
    assert not any(b.isVisible() for b in bar.buttons)
    assert len(window.labeller.unsaved) == 2
