"""Bugs found driving the app like an analyst on a project with a task of its own (4
classes): working down a queue past its first page, labelling a selection after the
queue changed, where the keyboard focus goes after a click, and stray letters in the
list."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import run_import, write_csv
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt
from PySide6.QtWidgets import QApplication
from window_helpers import current_labels, open_window, settle, work_down

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import scheme_from_json
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.main_window import MainWindow

URGENCY = {"task": "urgency", "classes": ["none", "minor", "major", "catastrophic"]}
UNLABELLED = Queue("unlabelled", "urgency")
POSTS = PAGE + 36  # a queue longer than one page of the list


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Text-only posts, more than a page of the item list, and the project's own task
    "urgency" (4 classes) with no labels yet."""
    project = Project.open(tmp_path / "urgency", create=True)
    with project.open_store() as store:
        store.add_scheme(scheme_from_json(URGENCY, "urgency.json"))
    source = write_csv(tmp_path / "posts.csv", ["id", "text"],
                       [[str(i), f"water rising on street {i}"] for i in range(POSTS)])
    run_import(project, [source])
    return project


def queue_order(project: Project, queue: Queue) -> list[int]:
    with project.open_store() as store:
        return [r.id for r in review.queue_page(store, queue, offset=0, limit=10 * POSTS)]


def open_on_unlabelled(qtbot, project: Project) -> MainWindow:
    """A window showing "Unlabelled (urgency)", the urgency task focused, keys to it."""
    window = open_window(qtbot, project)
    assert window.queues.select(UNLABELLED)
    qtbot.waitUntil(lambda: window.model.queue == UNLABELLED and window.model.total == POSTS
                    and window.current_row() is not None)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.items.setFocus()
    while focused_task(window) != "urgency":
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    return window


def focused_task(window: MainWindow) -> str:
    return window.detail.task_boxes[window.detail.focused_task].view.task


def test_working_down_unlabelled_past_its_first_page_shows_every_item(qtbot, project
                                                                       ) -> None:
    """Labelled items stay listed until a refresh; the next page was read by its offset
    in the queue they had left, so as many items were skipped, never shown, and the
    list's last rows stayed "Loading…"."""
    expected = queue_order(project, UNLABELLED)
    window = open_on_unlabelled(qtbot, project)
    shown = work_down(qtbot, window, Qt.Key.Key_4, PAGE + 8)
    assert shown == expected[:PAGE + 8]
    labels = current_labels(project, "urgency")
    assert [labels.get(item) for item in shown] == ["catastrophic"] * len(shown)


def test_a_selection_with_rows_not_read_is_refused_once_the_queue_changed(
        qtbot, project) -> None:
    """Rows of a selection not read yet are found by their offset in the queue when the
    label is written; after a label took an item out of "Unlabelled", that offset fell
    one item further: a selected item was skipped and one not selected labelled."""
    expected = queue_order(project, UNLABELLED)
    window = open_on_unlabelled(qtbot, project)
    qtbot.keyClick(window.items, Qt.Key.Key_1)  # row 0 leaves the queue, stays listed
    settle(qtbot, window)
    last = PAGE + 10
    assert window.model.row_at(last) is None  # not read: a range of the selection
    window.items.selectionModel().select(
        QItemSelection(window.model.index(0), window.model.index(last)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    major = {item for item, label in current_labels(project, "urgency").items()
             if label == "major"}
    assert major <= set(expected[:last + 1])  # never an item that was not selected
    assert "press F5" in window.statusBar().currentMessage()


def test_a_queue_clicked_with_the_mouse_hands_the_keys_to_the_list(qtbot, project
                                                                     ) -> None:
    window = open_on_unlabelled(qtbot, project)
    item = window.queues._items[Queue("all")]
    qtbot.mouseClick(window.queues.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.queues.visualItemRect(item).center())
    qtbot.waitUntil(lambda: window.model.queue == Queue("all")
                    and window.current_row() is not None)
    current = window.current_row().id
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2)
    settle(qtbot, window)
    assert current_labels(project, "urgency") == {current: "minor"}


def test_tab_after_a_click_in_a_task_box_goes_to_the_next_task(qtbot, project) -> None:
    """Clicking a class (to see its evidence) gave the focus to the panel's scroll
    area, where Tab moved the focus on instead of going to the next task."""
    window = open_on_unlabelled(qtbot, project)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.detail.task_boxes[0].isVisible())
    box = window.detail.task_boxes[0]
    name = next(w for w, cls in box._row_of.items() if cls == box.view.classes[0]
                and w.text().startswith(box.view.classes[0][:3]))
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=name.mapTo(box, QPoint(2, 2)))
    assert window.detail.focused_task == 0
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert window.detail.focused_task == 1


def test_a_letter_in_the_list_does_not_jump_to_a_row_not_read(qtbot, project) -> None:
    """Qt's type-ahead matched the "Loading…" placeholder of the first row not read."""
    window = open_on_unlabelled(qtbot, project)
    qtbot.keyClick(window.items, Qt.Key.Key_L)
    assert window.items.currentIndex().row() == 0
