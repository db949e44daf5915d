"""Labelling while a live collection pours in (a watched folder, README "Live collection"):
the list refreshes as posts arrive, and the analyst must stay on the item, the rows on
screen and the selection they had.

* Posts arriving above the current item (newest first, or by time) pushed it past the
  pages the refresh read again: the list put the analyst on the item now at that row
  number, one already worked through, and the detail panel followed.
* J onto a page not read yet, just after a post arrived, showed the item J had left again.
* A selection of several items shrank to the current one at each refresh: the label key
  then labelled that item alone.
* A list scrolled away from the current item (to read ahead) jumped back to it at each
  refresh, once a second while posts arrived.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_item_model import build_large_project
from window_helpers import current_labels, open_window, settle

from crisisdesk.core.importers.watch import WatchOptions
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui import watch_folder
from crisisdesk.gui.item_model import PAGE
from crisisdesk.gui.main_window import SORTS, MainWindow

N = 6 * PAGE  # items of the project: several pages, the far ones read only when shown


class Collector:
    """A collector appending posts, newer than any in the project, to a watched file."""

    def __init__(self, folder: Path) -> None:
        self.stream, self.sent = folder / "stream.jsonl", 0

    def send(self, count: int) -> None:
        with self.stream.open("a", encoding="utf-8") as handle:
            for n in range(self.sent, self.sent + count):
                handle.write(json.dumps({"id": f"live{n}", "text": f"flood rising, post {n}",
                                         "created_at": f"2030-01-01T00:00:{n % 60:02d}Z"})
                             + "\n")
        self.sent += count


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return build_large_project(tmp_path / "p", N)


def _watching(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> Collector:
    """Watch a collector's folder from the window, polling and refreshing quickly."""
    folder = tmp_path / "collector"
    folder.mkdir()
    monkeypatch.setattr(watch_folder, "REFRESH_S", 0.2)
    window.actions_.folder_watch.start(folder, WatchOptions(interval=0.1, settle=60))
    return Collector(folder)


def _show(qtbot, window: MainWindow, queue: Queue, sort: str = "priority",
          search: str = "") -> None:
    if queue != window.model.queue:
        assert window.queues.select(queue)
    window.sort.setCurrentIndex([key for _, key in SORTS].index(sort))
    if search:
        window.search.setText(search)
        window._search_now()
    qtbot.waitUntil(lambda: (window.model.queue, window.model.sort, window.model.search)
                    == (queue, sort, search) and window.current_row() is not None
                    and window.detail.item_id == window.current_row().id)
    settle(qtbot, window)
    window.items.setFocus()


def _press_j(qtbot, window: MainWindow, times: int) -> None:
    for _ in range(times):
        qtbot.keyClick(window.items, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.detail.item_id == window.current_row().id)
    settle(qtbot, window)


def _arrive(qtbot, window: MainWindow, collector: Collector, count: int) -> None:
    """The collector sends ``count`` posts; wait until the list has them."""
    total = window.model.total
    collector.send(count)
    qtbot.waitUntil(lambda: window.model.total == total + count, timeout=20_000)
    settle(qtbot, window)


@pytest.mark.parametrize("queue, sort, search", [
    (Queue("all"), "priority", ""),
    (Queue("unlabelled", "damage"), "time", ""),
    (Queue("all"), "priority", "flood"),
])
def test_the_current_item_stays_when_posts_arriving_above_push_it_down(
        qtbot, project, tmp_path, monkeypatch, queue, sort, search) -> None:
    window = open_window(qtbot, project)
    collector = _watching(qtbot, window, tmp_path, monkeypatch)
    _show(qtbot, window, queue, sort, search)
    _press_j(qtbot, window, PAGE - 4)  # near the end of the first page
    row = window.items.currentIndex().row()
    shown, after = window.current_row().id, window.model.row_at(row + 1).id
    _arrive(qtbot, window, collector, 10)  # they land above it: it moves to the next page
    assert window.items.currentIndex().row() == row + 10
    assert window.current_row().id == shown and window.detail.item_id == shown
    _press_j(qtbot, window, 1)  # J goes on to the item that followed it
    assert window.current_row().id == after


def test_j_onto_a_page_not_read_just_after_a_post_arrived_goes_to_the_next_item(
        qtbot, project, tmp_path) -> None:
    """The post was imported (by a watch, or another process) after the list read its
    first page: the second page, read for J, belongs to a queue one item longer."""
    from import_helpers import run_import

    window = open_window(qtbot, project)
    _press_j(qtbot, window, PAGE - 1)  # the last row of the first page
    row = window.items.currentIndex().row()
    assert window.model.row_at(row + 1) is None  # the next page is not read yet
    left = window.current_row().id
    post = tmp_path / "one.jsonl"
    post.write_text(json.dumps({"id": "new1", "text": "bridge down"}) + "\n",
                    encoding="utf-8")
    run_import(project, [post])
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.model.total == N + 1, timeout=10_000)
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.detail.item_id == window.current_row().id)
    settle(qtbot, window)
    # "All items" lists the newest first (items numbered 1..N: row r holds item N - r).
    assert window.current_row().id == left - 1
    assert window.items.currentIndex().row() == row + 2


@pytest.mark.parametrize("sort", ["priority", "confidence"])
def test_a_selection_labelled_as_posts_arrive_labels_exactly_the_selected_items(
        qtbot, project, tmp_path, monkeypatch, sort) -> None:
    window = open_window(qtbot, project)
    collector = _watching(qtbot, window, tmp_path, monkeypatch)
    queue = Queue("unlabelled", "damage")
    _show(qtbot, window, queue, sort)
    _press_j(qtbot, window, 3)
    for _ in range(4):  # five items selected, from the keyboard
        qtbot.keyClick(window.items, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    selected = {window.model.row_at(index.row()).id
                for index in window.items.selectionModel().selectedRows()}
    assert len(selected) == 5
    _arrive(qtbot, window, collector, 3)
    assert window.detail.focused_view().task == "damage"
    before = current_labels(project, "damage")
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert set(current_labels(project, "damage")) - set(before) == selected


def test_a_list_scrolled_away_from_the_current_item_stays_where_it_was(
        qtbot, project, tmp_path, monkeypatch) -> None:
    """Reading ahead with the scroll bar while a collection runs: each refresh pulled
    the list back to the current item."""
    window = open_window(qtbot, project)
    collector = _watching(qtbot, window, tmp_path, monkeypatch)
    _press_j(qtbot, window, 3)
    current = window.current_row().id
    bar = window.items.verticalScrollBar()
    bar.setValue(bar.value() + 30 * window.items.rowHeight(0))
    settle(qtbot, window)

    def top_item() -> int:
        row = window.items.indexAt(window.items.viewport().rect().topLeft()).row()
        return window.model.row_at(row).id

    shown = top_item()
    _arrive(qtbot, window, collector, 2)
    assert top_item() == shown
    assert window.current_row().id == current


def test_a_selection_of_rows_not_read_yet_is_cleared_and_said_when_posts_arrive(
        qtbot, project, tmp_path, monkeypatch) -> None:
    """Ctrl+A selects rows never read: their items cannot be found again once posts
    moved the rows, and labelling only those held would pass for labelling them all."""
    window = open_window(qtbot, project)
    collector = _watching(qtbot, window, tmp_path, monkeypatch)
    _show(qtbot, window, Queue("unlabelled", "damage"))
    window.items.selectAll()
    assert window.model.row_at(N - 1) is None  # the last page was never read
    _arrive(qtbot, window, collector, 3)
    assert "select the items again" in window.statusBar().currentMessage()
    current = window.current_row().id
    before = current_labels(project, "damage")
    qtbot.keyClick(window.items, Qt.Key.Key_2)
    settle(qtbot, window)
    assert set(current_labels(project, "damage")) - set(before) == {current}
