"""Keyboard labelling in the main window: keys give labels, each committed at once as a
journal row; undo/redo go through the journal; a selection is one action; a second
window sees the labels; and no store query runs on the GUI thread while doing all that."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from window_helpers import ANNOTATOR, current_labels, open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import scheme_for
from crisisdesk.core.store import Prediction
from crisisdesk.gui.main_window import MainWindow


def human_actions(project: Project) -> list[tuple[int, str]]:
    with project.open_store() as store:
        return [(r["id"], r["kind"]) for r in store.conn.execute(
            "SELECT id, kind FROM label_actions WHERE source = 'human' AND annotator = ?"
            " ORDER BY id", [ANNOTATOR])]


def focused(window: MainWindow):
    return window.detail.task_boxes[window.detail.focused_task].view


@pytest.fixture
def window(qtbot, demo_like_project: Project) -> MainWindow:
    return open_window(qtbot, demo_like_project)


def test_number_key_labels_the_focused_task_of_the_current_item(qtbot, window) -> None:
    item = window.current_row().id
    task = focused(window)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert current_labels(window.project, task.task)[item] == task.classes[1]
    with window.project.open_store() as store:
        last = store.journal(item, task.task)[-1]
    assert (last["label"], last["annotator"], last["source"]) == (
        task.classes[1], ANNOTATOR, "human")
    # The detail panel and the list row show it once the refresh arrives.
    qtbot.waitUntil(lambda: focused(window).label == task.classes[1])
    qtbot.waitUntil(lambda: window.current_row().labels.get(task.task) == task.classes[1])


def test_tab_and_shift_tab_move_between_tasks(qtbot, window) -> None:
    tasks = [box.view.task for box in window.detail.task_boxes]
    assert len(tasks) >= 2 and window.detail.focused_task == 0
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    assert window.detail.focused_task == 1
    assert window.detail.task_boxes[1].property("focused") is True
    assert window.detail.task_boxes[0].property("focused") is False
    item = window.current_row().id
    before = current_labels(window.project, tasks[0]).get(item)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    assert current_labels(window.project, tasks[1])[item] == scheme_for(tasks[1]).classes[0]
    assert current_labels(window.project, tasks[0]).get(item) == before
    qtbot.keyClick(window.items, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert window.detail.focused_task == 0


def test_j_k_and_arrows_move_between_items(qtbot, window) -> None:
    assert window.items.currentIndex().row() == 0
    first = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    assert window.items.currentIndex().row() == 1
    second = window.current_row().id
    qtbot.waitUntil(lambda: window.detail.detail is not None
                    and window.detail.detail.row.id == second)
    qtbot.keyClick(window.items, Qt.Key.Key_K)
    assert window.items.currentIndex().row() == 0
    qtbot.keyClick(window.items, Qt.Key.Key_Down)
    assert window.items.currentIndex().row() == 1
    qtbot.keyClick(window.items, Qt.Key.Key_Up)
    assert window.items.currentIndex().row() == 0
    qtbot.waitUntil(lambda: window.detail.detail.row.id == first)


def test_enter_accepts_the_prediction_as_the_label(qtbot, demo_like_project) -> None:
    with demo_like_project.open_store() as store:
        items = [r[0] for r in store.conn.execute("SELECT id FROM items")]
        version = store.add_model_version("informative", "test-head", "nowhere")
        store.add_predictions(version, [
            Prediction(i, "informative", {"informative": 0.2, "not_informative": 0.8})
            for i in items])
    window = open_window(qtbot, demo_like_project)
    while focused(window).task != "informative":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    assert focused(window).predicted == "not_informative"
    item = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert current_labels(demo_like_project, "informative") == {item: "not_informative"}


def test_undo_and_redo_go_through_the_journal(qtbot, window) -> None:
    item = window.current_row().id
    task = focused(window)
    before = current_labels(window.project, task.task).get(item)
    assert before not in task.classes[:2]
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    qtbot.keyClick(window.items, Qt.Key.Key_2)  # given quickly: must land in this order
    settle(qtbot, window)
    assert current_labels(window.project, task.task)[item] == task.classes[1]
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert current_labels(window.project, task.task)[item] == task.classes[0]
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert current_labels(window.project, task.task).get(item) == before
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, window)
    assert current_labels(window.project, task.task)[item] == task.classes[0]
    kinds = [kind for _, kind in human_actions(window.project)]
    assert kinds == ["set", "set", "undo", "undo", "redo"]
    qtbot.waitUntil(lambda: focused(window).label == task.classes[0])


def test_undo_of_a_label_a_colleague_changed_since_says_so(qtbot, window) -> None:
    from crisisdesk.core.store import LabelChange

    item = window.current_row().id
    task = focused(window)
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    with window.project.open_store() as store:
        store.add_labels([LabelChange(item, task.task, task.classes[2])], annotator="colleague")
    with qtbot.waitSignal(window.labeller.message, timeout=10_000) as said:
        qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert "a colleague has changed those labels since" in said.args[0]
    assert current_labels(window.project, task.task)[item] == task.classes[2]


def test_a_selection_is_labelled_as_one_action(qtbot, window) -> None:
    model = window.model
    selection = QItemSelection(model.index(1), model.index(3))
    window.items.selectionModel().select(selection,
                                         QItemSelectionModel.SelectionFlag.ClearAndSelect)
    ids = {model.row_at(r).id for r in (1, 2, 3)}
    task = focused(window)
    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    labels = current_labels(window.project, task.task)
    assert all(labels[i] == task.classes[2] for i in ids)
    actions = human_actions(window.project)
    assert len(actions) == 1
    with window.project.open_store() as store:
        rows = store.conn.execute("SELECT item FROM labels WHERE action = ?",
                                  [actions[0][0]]).fetchall()
    assert {r[0] for r in rows} == ids
    # One Ctrl+Z takes the whole selection back.
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    after = current_labels(window.project, task.task)
    assert all(after.get(i) != task.classes[2] for i in ids)


def test_a_second_window_sees_the_labels_after_refresh(qtbot, demo_like_project) -> None:
    first = open_window(qtbot, demo_like_project)
    second = open_window(qtbot, demo_like_project)
    item = first.current_row().id
    task = focused(first)
    qtbot.keyClick(first.items, Qt.Key.Key_2)
    settle(qtbot, first)
    assert second.detail.detail.row.id == item
    assert focused(second).label != task.classes[1]  # it shows what it fetched before
    second.refresh()
    qtbot.waitUntil(lambda: focused(second).label == task.classes[1])
    qtbot.waitUntil(lambda: second.current_row().labels.get(task.task) == task.classes[1])


def test_the_help_overlay_lists_the_shortcuts(qtbot, window) -> None:
    qtbot.keyClick(window.items, Qt.Key.Key_F1)
    assert window.help.isVisible()
    text = window.help.text.text()
    for keys in ("Ctrl+Z", "Tab / Shift+Tab", "Enter", "J / ↓"):
        assert keys in text
    qtbot.keyClick(window.help, Qt.Key.Key_Escape)
    assert not window.help.isVisible()


class RecordingConnection(sqlite3.Connection):
    """A connection noting the thread of every statement it runs."""

    threads: list[int] = []

    def execute(self, *args, **kwargs):  # type: ignore[override]
        self.threads.append(threading.get_ident())
        return super().execute(*args, **kwargs)

    def executemany(self, *args, **kwargs):  # type: ignore[override]
        self.threads.append(threading.get_ident())
        return super().executemany(*args, **kwargs)

    def cursor(self, *args, **kwargs):  # type: ignore[override]
        self.threads.append(threading.get_ident())
        return super().cursor(*args, **kwargs)


def test_no_store_query_runs_on_the_gui_thread(qtbot, demo_like_project, monkeypatch,
                                               tmp_path: Path) -> None:
    real_connect = sqlite3.connect
    opened: list[int] = []

    def connect(*args, **kwargs):
        opened.append(threading.get_ident())
        kwargs["factory"] = RecordingConnection
        return real_connect(*args, **kwargs)

    RecordingConnection.threads = []
    monkeypatch.setattr(sqlite3, "connect", connect)
    gui = threading.get_ident()
    window = open_window(qtbot, demo_like_project)
    # Browse: move, switch queue, search, sort; label, label a selection, undo, redo.
    for key in (Qt.Key.Key_J, Qt.Key.Key_J, Qt.Key.Key_K, Qt.Key.Key_2, Qt.Key.Key_Tab,
                Qt.Key.Key_1):
        qtbot.keyClick(window.items, key)
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.items, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, window)
    qtbot.keyClicks(window.search, "street")
    qtbot.waitUntil(lambda: window.model.search == "street" and window.model.total == 1)
    window.search.clear()
    window.sort.setCurrentIndex(1)
    queues = window.queues
    qtbot.waitUntil(lambda: len(queues._items) > 3)
    unlabelled = next(q for q in queues._items if q.kind == "unlabelled")
    queues.select(unlabelled)
    qtbot.waitUntil(lambda: window.model.queue == unlabelled and not window.background.busy())
    window.items.selectAll()
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    window.refresh()
    settle(qtbot, window)
    assert len(RecordingConnection.threads) > 50  # the recording saw the work
    assert gui not in opened
    assert gui not in RecordingConnection.threads
