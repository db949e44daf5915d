"""Review of session 8's GUI changes and a deep labelling session: what an analyst met.

* Labelling an item, then moving to a row whose page was not read yet (a click after a
  scroll, End, a scrollbar drag): the refresh the label called for pulled the list back
  to the item the detail panel still showed, undoing the move.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_item_model import build_large_project
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.main_window import MainWindow

N = 6 * PAGE  # a few pages: the far ones are read only when moved to


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return build_large_project(tmp_path / "p", N)


def _focus_task(qtbot, window: MainWindow, task: str) -> None:
    for _ in range(len(window.tasks)):
        if window.detail.focused_view().task == task:
            return
        qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    raise AssertionError(f"no {task} box")


def _label_then_move_far(qtbot, window: MainWindow, far: int) -> None:
    """Label the first item (informative, key 1), go on to the next (J) as an analyst
    does, then move to row ``far``, on a page not read yet."""
    _focus_task(qtbot, window, "informative")
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.detail.item_id == window.current_row().id)
    assert window.model.row_at(far) is None  # its page is still to be read
    window.items.setCurrentIndex(window.model.index(far))


@pytest.mark.parametrize("queue, shift", [(Queue("unlabelled", "informative"), 1),
                                          (Queue("all"), 0)])
def test_a_move_to_a_row_still_loading_after_a_label_is_kept(qtbot, project, queue,
                                                              shift) -> None:
    """The labelled item leaves "Unlabelled" (a reset, the rows below move up one) or
    stays in "All items" (no reset): either way the list stays where the analyst went,
    and the detail panel follows it there."""
    window = open_window(qtbot, project)
    if queue != window.model.queue:
        assert window.queues.select(queue)
        qtbot.waitUntil(lambda: window.model.queue == queue and window.model.total == N
                        and window.current_row() is not None
                        and window.detail.item_id == window.current_row().id)
    far = 5 * PAGE + 3
    _label_then_move_far(qtbot, window, far)
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.detail.detail is not None
                    and window.detail.item_id == window.current_row().id)
    settle(qtbot, window)
    assert window.model.total == N - shift
    assert window.items.currentIndex().row() == far - shift  # not back near row 0


def test_a_tasks_queue_gives_the_keys_to_that_task(qtbot, demo_like_project) -> None:
    """In "Needs review (informative)" key 1 labelled the first task box (damage), not
    the task the analyst was reviewing, until Tab was pressed."""
    from window_helpers import current_labels

    window = open_window(qtbot, demo_like_project)
    boxes = [box.view.task for box in window.detail.task_boxes]
    task = boxes[-1]  # not the first box
    assert task != boxes[0]
    queue = Queue("unlabelled", task)
    assert window.queues.select(queue)
    qtbot.waitUntil(lambda: window.model.queue == queue and window.current_row() is not None
                    and window.detail.item_id == window.current_row().id)
    assert window.detail.focused_view().task == task
    item = window.current_row().id
    before = {t: current_labels(demo_like_project, t) for t in boxes}
    window.items.setFocus()
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    assert item in current_labels(demo_like_project, task)
    assert all(current_labels(demo_like_project, t) == before[t] for t in boxes if t != task)
