"""Bugs found driving the labeller as an analyst does: keys given quickly, a label write
that cannot be done among those still waiting when the window closes, ..."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from window_helpers import ANNOTATOR, current_labels, open_window, settle

from crisisdesk.core.review import Queue
from crisisdesk.core.schemes import display_name
from crisisdesk.gui.labelling import Targets
from crisisdesk.gui.main_window import MainWindow


def focused(window: MainWindow):
    return window.detail.task_boxes[window.detail.focused_task].view


def test_a_label_that_cannot_be_written_at_close_does_not_drop_those_after_it(
        qtbot, demo_like_project, capfd) -> None:
    """Waiting labels are written one after the other as the window closes; one that
    fails (a selection whose unread rows moved) stopped the loop, and the labels given
    after it were lost. In the window's lane a failure skips that write alone."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = focused(window)
    first, second = window.model.row_at(0), window.model.row_at(1)
    # A Shift-click selection of rows not read yet, from a list of another size than
    # the queue has now: its write raises ListChanged.
    moved = Targets((), ((2, 2),), Queue("all"), total=window.model.total + 5)
    window.labeller.give(Targets((first,)), task.task, task.classes[0])  # in flight
    window.labeller.give(moved, task.task, task.classes[1])  # these wait in the lane
    window.labeller.give(Targets((second,)), task.task, task.classes[2])
    window.close()
    labels = current_labels(demo_like_project, task.task)
    assert labels[first.id] == task.classes[0]
    assert labels[second.id] == task.classes[2]
    err = capfd.readouterr().err
    assert "the list changed since it was read" in err


def test_a_key_that_gives_the_label_the_item_has_says_no_change(qtbot, demo_like_project
                                                                ) -> None:
    """Nothing is written for the class an item has already (no journal row, no undo
    step), yet the status bar said the label was given: the analyst's next Ctrl+Z then
    took back an earlier label, on another item, unseen."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = focused(window)
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    with qtbot.waitSignal(window.labeller.message, timeout=10_000) as said:
        qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    # The class as the app shows it everywhere else (not the stored "mild_damage").
    assert said.args[0] == f"{task.task}: {display_name(task.classes[1])}: no change"


def test_a_label_write_not_started_in_a_busy_pool_is_written_at_close(
        qtbot, demo_like_project) -> None:
    """The label write shares the window's pool with thumbnails, pages, explanations and
    the job-module preload. With every pool thread held by such calls, the write given
    just before closing had not started: flush() waited for it, then the pool's
    shutdown dropped it, and the label was lost without a word. Not started, it is
    written by flush() itself, once."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    task = focused(window)
    item = window.current_row().id
    held = threading.Event()
    running = threading.Semaphore(0)

    def slow_call() -> None:
        running.release()
        held.wait(30)

    threads = window.background._pool.maxThreadCount()
    for _ in range(threads):
        window.background.call(slow_call, lambda _result: None)
    for _ in range(threads):
        assert running.acquire(timeout=30)  # every pool thread is busy now
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    qtbot.keyClick(window.items, Qt.Key.Key_3)  # waits in the lane behind it
    window.labeller.flush(timeout_ms=0)
    held.set()
    settle(qtbot, window)
    with demo_like_project.open_store() as store:
        given = [r["label"] for r in store.journal(item, task.task)
                 if r["annotator"] == ANNOTATOR]
    assert given == [task.classes[1], task.classes[2]]
