"""The app open while predictions are written (its own Predict job, ``crisisdesk predict``
in another process): a chunk of predictions reorders the queues over predictions with
their size unchanged (stale predictions redone), so the list's pages read before and
after it come from two orders."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from test_hunt_gui2 import POSTS
from test_hunt_gui2 import project as urgency_project  # noqa: F401 - a fixture
from window_helpers import current_labels, open_window, settle

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.core.store import Prediction
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.main_window import MainWindow

NEEDS_REVIEW = Queue("needs_review", "urgency")
UNLABELLED = Queue("unlabelled", "urgency")


def _predict(project: Project, sign: int) -> None:
    """What a predict chunk writes, in its own connection: the active version's
    predictions of every item, least confident first in id order (``sign`` 1) or the
    reverse (-1), as a predict redoing stale predictions writes them."""
    with project.open_store() as store:
        version = store.active_model_version("urgency")
        assert version is not None
        ids = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        store.add_predictions(version["id"], [
            Prediction(item, "urgency", {"none": 0.3 + sign * n / (4 * POSTS),
                                         "minor": 0.25, "major": 0.2, "catastrophic": 0.1})
            for n, item in enumerate(ids)])


@pytest.fixture
def project(urgency_project: Project) -> Project:  # noqa: F811 - the fixture, extended
    """test_hunt_gui2's posts (more than a page of the list, the project's own task
    "urgency") and an urgency version that predicted every item."""
    with urgency_project.open_store() as store:
        store.add_model_version("urgency", "v1", "/models/v1")
    _predict(urgency_project, 1)
    return urgency_project


def _order(project: Project, queue: Queue) -> list[int]:
    with project.open_store() as store:
        return [r.id for r in review.queue_page(store, queue, offset=0, limit=2 * POSTS)]


def _open(qtbot, project: Project, queue: Queue) -> MainWindow:
    window = open_window(qtbot, project)
    assert window.queues.select(queue)
    qtbot.waitUntil(lambda: window.model.queue == queue
                    and window.model.total == POSTS and window.current_row() is not None)
    return window


def test_pages_read_after_a_predict_chunk_do_not_mix_orders(qtbot, project: Project
                                                             ) -> None:
    """The list's first page came from the order before a chunk of predictions; the
    next page, read by its offset in the order after it, repeated items of the first
    page and never listed others: the stamp the pages were checked by did not move."""
    window = _open(qtbot, project, NEEDS_REVIEW)
    before = _order(project, NEEDS_REVIEW)
    _predict(project, -1)
    assert _order(project, NEEDS_REVIEW) != before  # the chunk reordered the queue
    window.items.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.loaded_rows() == POSTS, timeout=10_000)
    settle(qtbot, window)
    listed = [window.model.row_at(n).id for n in range(POSTS)]
    assert listed == _order(project, NEEDS_REVIEW)  # the new order, each item once


def _label_selection_across_a_chunk(qtbot, window: MainWindow, project: Project
                                    ) -> list[int]:
    """Select rows 0 to PAGE + 10 (those past the first page not read yet), let a
    predict chunk land, press 3; the rows selected, in the list's order when read."""
    before = _order(project, window.model.queue)
    last = PAGE + 10
    assert window.model.row_at(last) is None  # not read: a range of the selection
    window.items.selectionModel().select(
        QItemSelection(window.model.index(0), window.model.index(last)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect)
    _predict(project, -1)
    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    return before[:last + 1]


def test_a_selection_is_not_labelled_by_offsets_in_the_order_after_a_chunk(
        qtbot, project: Project) -> None:
    """Rows of a selection not read yet are found by their offset in the queue; after a
    predict chunk reordered it (its size unchanged), the offsets fell on other items
    and items never selected were labelled."""
    window = _open(qtbot, project, NEEDS_REVIEW)
    selected = _label_selection_across_a_chunk(qtbot, window, project)
    assert set(current_labels(project, "urgency")) <= set(selected)


def test_a_selection_in_a_queue_not_over_predictions_is_labelled_across_a_chunk(
        qtbot, project: Project) -> None:
    """Unlabelled (newest first) does not read predictions: a chunk landing does not
    move its rows, and the selection is labelled, not refused."""
    window = _open(qtbot, project, UNLABELLED)
    selected = _label_selection_across_a_chunk(qtbot, window, project)
    assert set(current_labels(project, "urgency")) == set(selected)
