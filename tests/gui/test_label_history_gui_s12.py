"""A task box's History link: the item's label changes for that task, in a window that
does not block the app, read off the GUI thread, and following the item shown."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from window_helpers import ANNOTATOR, open_window, settle

from crisisdesk.core.store import LabelChange, Store


def _box(window, task: str):
    return next(b for b in window.detail.task_boxes if b.view.task == task)


def test_history_link_lists_the_changes_off_the_gui_thread(
        qtbot, demo_like_project, monkeypatch) -> None:
    window = open_window(qtbot, demo_like_project)
    item = window.current_row().id
    task = window.detail.task_boxes[0].view
    with demo_like_project.open_store() as store:
        store.add_labels([LabelChange(item, task.task, task.classes[0])], annotator="amina")
        store.add_labels([LabelChange(item, task.task, task.classes[1])], annotator="omar")
        store.undo("omar")
        store.redo("omar")
    threads: list[int] = []
    real = Store.label_history

    def recording(self, *args, **kwargs):
        threads.append(threading.get_ident())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "label_history", recording)
    window.detail.reload()
    settle(qtbot, window)
    # The link, as a click on it reports it.
    _box(window, task.task).history_link.linkActivated.emit("history")
    popup = window.detail.history
    qtbot.waitUntil(lambda: len(popup.events) == 4)
    assert popup.isVisible() and not popup.isModal()
    assert [(e.kind, e.changed_by) for e in popup.events] == [
        ("set", "amina"), ("set", "omar"), ("undo", "omar"), ("redo", "omar")]
    shown = popup.rows.text()
    assert shown.index("amina") < shown.index("undo by omar") < shown.index("redo by omar")
    assert "UTC" in shown
    assert threads and threading.get_ident() not in threads
    # The window stays usable: a label given with the popup open shows in it.
    window.items.setFocus()
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: len(popup.events) == 5)
    assert (popup.events[-1].changed_by, popup.events[-1].label) == (
        ANNOTATOR, task.classes[0])
    assert threading.get_ident() not in threads


def test_history_of_a_task_never_labelled_says_so(qtbot, demo_like_project) -> None:
    window = open_window(qtbot, demo_like_project)
    task = window.detail.task_boxes[-1].view.task
    _box(window, task).history_link.linkActivated.emit("history")
    popup = window.detail.history
    qtbot.waitUntil(lambda: "No label given yet" in popup.rows.text())
    assert popup.events == [] and popup.task == task
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    assert not popup.isVisible()
