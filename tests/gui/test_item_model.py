"""The item list's model: lazy pages over 100,000 items, thumbnails off the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui import style, thumbnails
from crisisdesk.gui.item_list import ItemList
from crisisdesk.gui.item_model import PAGE, ItemModel
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.worker import Background

N_ITEMS = 100_000


def made_up_text(i: int) -> str:
    """Post ``i``'s text in the tests' large project: made up and short (~10 tokens)."""
    return f"post number {i} about the flood"


def build_large_project(root: Path, n: int = N_ITEMS,
                        text: Callable[[int], str] = made_up_text) -> Project:
    """A project of ``n`` text-only items, written with bulk inserts (seconds, not minutes);
    post ``i`` says ``text(i)`` (bench/gui_bench.py gives real tweets)."""
    project = Project.open(root, create=True)
    with project.open_store() as store, store.transaction():
        now = "2024-01-01T00:00:00.000Z"
        store.conn.execute("INSERT INTO sources (name, kind, location, first_imported,"
                           " last_imported) VALUES ('bulk', 'csv', 'bulk.csv', ?, ?)",
                           [now, now])
        store.conn.executemany(
            "INSERT INTO posts (id, source, post_id, text, created_at, event, imported_at)"
            " VALUES (?, 'bulk', ?, ?, ?, ?, ?)",
            ((i, str(i), text(i), f"2024-01-01T{i % 24:02d}:00:00Z",
              "flood" if i % 2 else "quake", now) for i in range(1, n + 1)))
        store.conn.executemany(
            "INSERT INTO items (id, uid, post, n, media) VALUES (?, ?, ?, 0, NULL)",
            ((i, f"bulk:{i}:0", i) for i in range(1, n + 1)))
    return project


@pytest.fixture(scope="module")
def large_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return build_large_project(tmp_path_factory.mktemp("large") / "project")


def make_list(qtbot, project: Project, height: int = 800):
    background = Background()
    cache = ThumbnailCache(background, style.THUMB_SIZE)
    model = ItemModel(project, background, cache)
    view = ItemList()
    view.setModel(model)
    view.resize(500, height)
    qtbot.addWidget(view)
    view.show()
    return background, model, view


def rows_shown(view: ItemList) -> int:
    return view.viewport().height() // style.ROW_HEIGHT + 1


def test_scrolling_to_the_end_of_100000_items_fetches_lazily(qtbot, large_project,
                                                            monkeypatch) -> None:
    calls: list[tuple[int, int]] = []
    real_page = review.queue_page

    def counting_page(store, queue, *, offset, limit, **kwargs):
        calls.append((offset, limit))
        return real_page(store, queue, offset=offset, limit=limit, **kwargs)

    monkeypatch.setattr(review, "queue_page", counting_page)
    background, model, view = make_list(qtbot, large_project)
    model.set_query(Queue("all"), "", "time")
    qtbot.waitUntil(lambda: model.total == N_ITEMS and model.row_at(0) is not None)
    assert model.rowCount() == N_ITEMS  # the scrollbar is true to the size at once
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.row_at(N_ITEMS - 1) is not None)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not background.busy())
    shown = rows_shown(view)
    print(f"rows shown {shown}, rows fetched {model.rows_fetched}, calls {len(calls)}")
    assert model.rows_fetched == sum(min(limit, N_ITEMS - offset) for offset, limit in calls)
    # The first page, then the last rows: nothing in between.
    assert model.rows_fetched <= 3 * PAGE
    assert model.rows_fetched <= 16 * shown
    assert all(offset == 0 or offset >= N_ITEMS - 2 * PAGE for offset, _ in calls)
    background.shutdown()


def test_dragging_the_scrollbar_fetches_only_where_it_stops(qtbot, large_project) -> None:
    background, model, view = make_list(qtbot, large_project)
    model.set_query(Queue("all"))
    qtbot.waitUntil(lambda: model.total == N_ITEMS and model.row_at(0) is not None)
    bar = view.verticalScrollBar()
    for step in range(1, 41):  # a fling across the list: 40 positions painted
        bar.setValue(bar.maximum() * step // 41)
        view.viewport().repaint()
    bar.setValue(bar.maximum() // 2)
    middle = view.indexAt(view.viewport().rect().center()).row()
    qtbot.waitUntil(lambda: model.row_at(middle) is not None)
    qtbot.waitUntil(lambda: not background.busy())
    print(f"rows fetched after a fling: {model.rows_fetched}")
    # Far fewer than the 40 screens flown past would need (at most a few pages in flight).
    assert model.rows_fetched <= 12 * PAGE
    assert model.loaded_rows() <= model.rows_fetched
    background.shutdown()


def test_a_row_held_in_the_list_is_the_queue_page_row(qtbot, large_project) -> None:
    background, model, view = make_list(qtbot, large_project, height=400)
    model.set_query(Queue("event", value="quake"), "number 1", "time")
    qtbot.waitUntil(lambda: model.row_at(0) is not None)
    with large_project.open_store() as store:
        size = review.queue_size(store, Queue("event", value="quake"), "number 1")
        first = review.queue_page(store, Queue("event", value="quake"), offset=0, limit=3,
                                  search="number 1", sort="time")
    assert model.total == size
    assert [model.row_at(n).id for n in range(3)] == [r.id for r in first]
    background.shutdown()


def test_thumbnails_are_decoded_off_the_gui_thread_and_cached(qtbot, demo_like_project,
                                                             monkeypatch) -> None:
    threads: list[int] = []
    real = thumbnails.decode_scaled

    def recording(path: str, box: int):
        threads.append(threading.get_ident())
        return real(path, box)

    monkeypatch.setattr(thumbnails, "decode_scaled", recording)
    background, model, view = make_list(qtbot, demo_like_project)
    model.set_query(Queue("all"))
    qtbot.waitUntil(lambda: model.row_at(0) is not None)
    paths = {model.row_at(n).image_path for n in range(model.total)} - {None}
    assert paths
    cache = model._thumbnails
    for path in paths:
        cache.get(path)
    qtbot.waitUntil(lambda: all(cache.get(p) is not None or cache.failed(p) for p in paths))
    decoded = cache.decoded
    assert threading.get_ident() not in threads and len(threads) == decoded
    pixmap = cache.get(next(iter(paths)))
    assert pixmap is not None and max(pixmap.width(), pixmap.height()) <= style.THUMB_SIZE
    view.viewport().repaint()  # painting again uses the cache: no new decode
    QApplication.processEvents()
    qtbot.wait(50)
    assert cache.decoded == decoded
    background.shutdown()
