"""Checks that a deliberately broken labelling path makes a test fail (mutation audit,
session 16). Each test pins one behaviour no earlier test caught when the code was
broken on purpose in a scratch copy (the audit's table is in the session report):

* Enter accepts the prediction of the focused task, read from that task's model version,
  never another task's;
* Enter on a selection accepts each selected item's own prediction, as one step;
* the keypad's Enter accepts as the main Enter does (labelling from the number pad);
* a key that changes nothing while labels cannot be saved leaves the red bar up;
* the red bar counts the labels lost since the last one saved, not since it first showed;
* H on another task, with the label history open, shows that task's history;
* the label history says a label an undo took away was cleared, not an empty cell.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from test_label_not_saved_s11 import _disk_full
from window_helpers import ANNOTATOR, current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import LabelChange, Prediction, Store


def _focus(qtbot, window, task: str):
    """Tab to ``task``'s box; its view."""
    while window.detail.task_boxes[window.detail.focused_task].view.task != task:
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    return window.detail.task_boxes[window.detail.focused_task].view


def _predict(project: Project, task: str, pick) -> dict[int, str]:
    """An active version of ``task`` predicting ``pick(n)`` (a class index) for the n-th
    item; {item: predicted class}."""
    classes = scheme_for(task).classes
    with project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        version = store.add_model_version(task, f"head-{task}", "nowhere")
        store.add_predictions(version, [
            Prediction(i, task, {c: (0.9 if k == pick(n) else 0.1 / len(classes))
                                 for k, c in enumerate(classes)})
            for n, i in enumerate(items)])
    return {i: classes[pick(n)] for n, i in enumerate(items)}


def test_enter_accepts_the_focused_tasks_own_prediction(qtbot, demo_like_project) -> None:
    # Two tasks predicted: Enter on "humanitarian" gave the label that task's version
    # predicts, never one read from the other task's version.
    _predict(demo_like_project, "informative", lambda n: 1)
    humanitarian = _predict(demo_like_project, "humanitarian", lambda n: 2)
    window = open_window(qtbot, demo_like_project)
    informative_before = current_labels(demo_like_project, "informative")
    view = _focus(qtbot, window, "humanitarian")
    item = window.current_row().id
    assert view.predicted == humanitarian[item]
    qtbot.keyClick(window.items, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "humanitarian").get(item) == humanitarian[item]
    assert current_labels(demo_like_project, "informative") == informative_before
    qtbot.waitUntil(lambda: _focus(qtbot, window, "humanitarian").label
                    == humanitarian[item])


def test_enter_on_a_selection_accepts_each_selected_items_prediction(
        qtbot, demo_like_project) -> None:
    # Each item its own prediction (not all the same), so a selection accepted as the
    # current item's class, or only the current item accepted, both show.
    predicted = _predict(demo_like_project, "informative", lambda n: n % 2)
    window = open_window(qtbot, demo_like_project)
    _focus(qtbot, window, "informative")
    model = window.model
    window.items.selectionModel().select(QItemSelection(model.index(1), model.index(3)),
                                         QItemSelectionModel.SelectionFlag.ClearAndSelect)
    chosen = [model.row_at(r).id for r in (1, 2, 3)]
    before = current_labels(demo_like_project, "informative")
    qtbot.keyClick(window.items, Qt.Key.Key_Return)
    settle(qtbot, window)
    after = current_labels(demo_like_project, "informative")
    assert {i: after.get(i) for i in chosen} == {i: predicted[i] for i in chosen}
    assert {i: c for i, c in after.items() if i not in chosen} == {
        i: c for i, c in before.items() if i not in chosen}
    with demo_like_project.open_store() as store:
        steps = store.conn.execute(
            "SELECT COUNT(*) FROM label_actions WHERE annotator = ? AND source = 'human'",
            [ANNOTATOR]).fetchone()[0]
    assert steps == 1  # one Ctrl+Z takes the whole selection back


def test_the_keypad_enter_accepts_the_prediction(qtbot, demo_like_project) -> None:
    # An analyst labelling from the number pad accepts with the Enter beside it: a key
    # of its own to Qt (Key_Enter, not Key_Return), which once did nothing.
    predicted = _predict(demo_like_project, "informative", lambda n: 1)
    window = open_window(qtbot, demo_like_project)
    _focus(qtbot, window, "informative")
    item = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "informative").get(item) == predicted[item]


def test_a_key_changing_nothing_while_labels_cannot_be_saved_keeps_the_bar(
        qtbot, monkeypatch, demo_like_project) -> None:
    # The drive is full: a label that writes fails; the class the item has already
    # writes nothing and says "no change". That is no label saved: the bar stays, or
    # the analyst reads the writes as working again and goes on labelling into nothing.
    window = open_window(qtbot, demo_like_project)
    view = window.detail.task_boxes[window.detail.focused_task].view
    item = window.current_row().id
    with demo_like_project.open_store() as store:
        store.add_labels([LabelChange(item, view.task, view.classes[0])],
                         annotator=ANNOTATOR)

    def full(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_append_action", full)  # every step that writes a row
    bar = window.save_warning
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert bar.isVisible()
    with qtbot.waitSignal(window.labeller.message, timeout=10_000) as said:
        qtbot.keyClick(window.items, Qt.Key.Key_1)  # the class it has: nothing to write
    settle(qtbot, window)
    assert said.args[0].endswith("no change")
    assert bar.isVisible() and "was not saved" in bar.text()
    assert current_labels(demo_like_project, view.task)[item] == view.classes[0]


def test_the_bar_counts_the_labels_lost_since_the_last_one_saved(
        qtbot, monkeypatch, demo_like_project) -> None:
    # Two lost, then the drive freed and a label saved, then one lost again: the bar
    # says one label, or the analyst gives again labels that were saved meanwhile.
    window = open_window(qtbot, demo_like_project)
    bar = window.save_warning
    for key in (Qt.Key.Key_1, Qt.Key.Key_2):
        _disk_full(monkeypatch)
        qtbot.keyClick(window.items, key)
        settle(qtbot, window)
    assert "2 labels were not saved" in bar.text()
    monkeypatch.undo()
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    assert not bar.failing  # the calm note keeps the two (test_unsaved_after_recovery_s16)
    _disk_full(monkeypatch)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert bar.isVisible() and bar.lost == 1
    assert "not saved so far" not in bar.text()


def test_h_on_another_task_shows_that_tasks_history(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    item = window.current_row().id
    first, second = (b.view for b in window.detail.task_boxes[:2])
    with demo_like_project.open_store() as store:
        store.add_labels([LabelChange(item, first.task, first.classes[0])], annotator="amina")
        store.add_labels([LabelChange(item, second.task, second.classes[1])],
                         annotator="omar")
    window.detail.reload()
    settle(qtbot, window)
    popup = window.detail.history
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    qtbot.waitUntil(lambda: [e.task for e in popup.events] == [first.task])
    window.items.setFocus()  # the keys stay with the list while the history is open
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    qtbot.waitUntil(lambda: popup.task == second.task and len(popup.events) == 1)
    assert [(e.task, e.label, e.changed_by) for e in popup.events] == [
        (second.task, second.classes[1], "omar")]
    assert second.task in popup.windowTitle()


def test_the_history_says_an_undone_first_label_was_cleared(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    task = window.detail.task_boxes[window.detail.focused_task].view.task
    assert task not in window.current_row().labels  # no label before the one given here
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    popup = window.detail.history
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    qtbot.waitUntil(lambda: [e.kind for e in popup.events] == ["set", "undo"])
    assert popup.events[-1].label is None
    assert "(cleared)" in popup.rows.text()
