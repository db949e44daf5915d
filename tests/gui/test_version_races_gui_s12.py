"""The app open while another process switches a task's model version (``crisisdesk
versions --activate``, ``crisisdesk train``): the queues over predictions read the active
version's, so the list's pages read before and after the switch come from two orders."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture
def project(urgency_project: Project) -> Project:  # noqa: F811 - the fixture, extended
    """test_hunt_gui2's posts (more than a page of the list, the project's own task
    "urgency") and two urgency versions that predicted every item, in opposite orders
    of confidence; the first one active."""
    with urgency_project.open_store() as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")]
        for name, sign in (("v2", -1), ("v1", 1)):  # v1 registered last: active
            version = store.add_model_version("urgency", name, f"/models/{name}")
            store.add_predictions(version, [
                Prediction(item, "urgency", {"none": 0.3 + sign * n / (4 * POSTS),
                                             "minor": 0.25, "major": 0.2,
                                             "catastrophic": 0.1})
                for n, item in enumerate(ids)])
    return urgency_project


def _switch(project: Project, name: str) -> None:
    """What ``crisisdesk versions --activate`` does, in its own connection."""
    with project.open_store() as store:
        (version,) = [v for v in store.model_versions("urgency") if v["name"] == name]
        store.activate_model_version(version["id"])


def _order(project: Project) -> list[int]:
    with project.open_store() as store:
        return [r.id for r in review.queue_page(store, NEEDS_REVIEW, offset=0,
                                                limit=2 * POSTS)]


def _open(qtbot, project: Project) -> MainWindow:
    window = open_window(qtbot, project)
    assert window.queues.select(NEEDS_REVIEW)
    qtbot.waitUntil(lambda: window.model.queue == NEEDS_REVIEW
                    and window.model.total == POSTS and window.current_row() is not None)
    return window


def test_pages_read_after_another_process_switched_the_version_do_not_mix_orders(
        qtbot, project: Project) -> None:
    """The list's first page came from v1's order; another process made v2 active, and
    the next page, read by its offset in v2's order, repeated items of the first page
    and never listed others: the queue's pages only checked labels and new items."""
    window = _open(qtbot, project)
    _switch(project, "v2")
    window.items.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.loaded_rows() == POSTS, timeout=10_000)
    settle(qtbot, window)
    listed = [window.model.row_at(n).id for n in range(POSTS)]
    assert listed == _order(project)  # v2's order throughout, each item once


def test_a_selection_is_not_labelled_by_offsets_in_another_versions_order(
        qtbot, project: Project) -> None:
    """Rows of a selection not read yet are found by their offset in the queue; after
    another process switched the version, the offsets fell on other items (the queue's
    size had not changed) and items never selected were labelled."""
    window = _open(qtbot, project)
    before = _order(project)
    last = PAGE + 10
    assert window.model.row_at(last) is None  # not read: a range of the selection
    _switch(project, "v2")
    window.items.selectionModel().select(
        QItemSelection(window.model.index(0), window.model.index(last)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(window.items, Qt.Key.Key_3)
    settle(qtbot, window)
    labelled = set(current_labels(project, "urgency"))
    assert labelled <= set(before[:last + 1])  # never an item that was not selected
