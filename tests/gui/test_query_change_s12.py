"""A query change of the item list (sort switched, search typed or cleared, another
queue, a refresh that finds the queue's size changed) at 100,000 items.

Each one froze the UI thread 80-180 ms (~0.5 s at 300,000): the list was a QTreeView,
which after a reset or an insert of the queue's rows lays out a row record per row, and
asks the model for each row's index, one call of the model's Python ``rowCount`` each
(100,000 calls). The list now lays its rows out from a header of fixed-height sections
and asks the model only about the rows it paints. The tests count the Python calls into
the model and the delegate during a query change, at 10,000 and at 100,000 items: they
stay under a small bound, whatever the number of rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_item_model import build_large_project

from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue
from crisisdesk.gui import style
from crisisdesk.gui.item_list import ItemDelegate, ItemList
from crisisdesk.gui.item_model import ItemModel
from crisisdesk.gui.thumbnails import ThumbnailCache
from crisisdesk.gui.worker import Background

SIZES = (10_000, 100_000)
#: Python calls into the model and delegate a query change may make: the rows painted
#: (a screenful, a few roles each) and bookkeeping, never one per row of the queue.
BOUND = 2_000


class CountingModel(ItemModel):
    """The list's model, counting the view's calls into its Python methods."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: Counter[str] = Counter()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        self.calls["rowCount"] += 1
        return super().rowCount(parent)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole) -> Any:
        self.calls["data"] += 1
        return super().data(index, role)


class CountingDelegate(ItemDelegate):
    """The list's delegate, counting the view's size questions."""

    def __init__(self, model: CountingModel, parent=None) -> None:
        super().__init__(parent)
        self._model = model

    def sizeHint(self, option, index):  # noqa: N802
        self._model.calls["sizeHint"] += 1
        return super().sizeHint(option, index)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Project]:
    """Projects of 10,000 and 100,000 text-only items (every text says "flood")."""
    return {n: build_large_project(tmp_path_factory.mktemp(f"q{n}") / "p", n) for n in SIZES}


def open_list(qtbot, project: Project) -> tuple[Background, CountingModel, ItemList]:
    background = Background()
    model = CountingModel(project, background, ThumbnailCache(background, style.THUMB_SIZE))
    view = ItemList()
    view.setModel(model)
    view.setItemDelegate(CountingDelegate(model, view))
    view.resize(500, 800)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return background, model, view


def settle(qtbot, background: Background, model: ItemModel, view: ItemList,
           total: int) -> None:
    """Wait for the query's size and first page, then paint as the app would."""
    qtbot.waitUntil(lambda: model.total == total and model.row_at(0) is not None)
    qtbot.waitUntil(lambda: not background.busy())
    QApplication.processEvents()
    view.viewport().repaint()
    QApplication.processEvents()


def calls_per_change(qtbot, project: Project, n: int) -> dict[str, int]:
    """The Python calls into the model and delegate, per query change, from the change
    to its first page painted."""
    background, model, view = open_list(qtbot, project)
    model.set_query(Queue("all"), "", "time")
    settle(qtbot, background, model, view, n)
    changes = {
        "sort switched": lambda: model.set_query(Queue("all"), "", "priority"),
        "search typed": lambda: model.set_query(Queue("all"), "flood", "priority"),
        "search cleared": lambda: model.set_query(Queue("all"), "", "priority"),
        "another queue": lambda: model.set_query(Queue("unlabelled", "informative"), "",
                                                 "priority"),
    }
    out = {}
    for name, change in changes.items():
        model.calls.clear()
        change()
        settle(qtbot, background, model, view, n)
        out[name] = model.calls.total()
    # Posts imported meanwhile: a refresh finds the queue grown and resets the rows.
    with project.open_store() as store, store.transaction():
        store.conn.execute("INSERT INTO posts (id, source, post_id, text, created_at, event,"
                           " imported_at) VALUES (?, 'bulk', 'new', 'new flood post',"
                           " '2024-02-01T00:00:00Z', 'flood', '2024-02-01T00:00:00Z')",
                           [n + 1])
        store.conn.execute("INSERT INTO items (id, uid, post, n, media)"
                           " VALUES (?, 'bulk:new:0', ?, 0, NULL)", [n + 1, n + 1])
    model.calls.clear()
    model.refresh()
    settle(qtbot, background, model, view, n + 1)
    out["refresh, queue grown"] = model.calls.total()
    model.calls.clear()
    model.blur.changed.emit(model.blur.rule, model.blur.rule)  # every row's thumbnail
    QApplication.processEvents()
    view.viewport().repaint()
    out["blur settings changed"] = model.calls.total()
    return out


def test_a_query_change_asks_the_model_about_the_rows_painted_not_every_row(
        qtbot, projects) -> None:
    small, big = (calls_per_change(qtbot, projects[n], n) for n in SIZES)
    for change, calls in big.items():
        # 100,000 rows ask no more than 10,000 did, and both only a screenful's worth.
        assert calls <= small[change] + 100, (change, small[change], calls)
        assert calls < BOUND, (change, calls)


def test_the_list_still_moves_and_selects_by_whole_rows(qtbot, projects) -> None:
    """Home, End, Page Down, the arrows and Shift+click act on rows of the whole list
    (what the tree view did), and a row fills the list's width."""
    n = SIZES[0]
    background, model, view = open_list(qtbot, projects[n])
    model.set_query(Queue("all"), "", "time")
    qtbot.waitUntil(lambda: model.total >= n)  # the other test may have added a post
    settle(qtbot, background, model, view, model.total)
    view.setFocus()
    view.setCurrentIndex(model.index(3))
    QTest.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 4
    QTest.keyClick(view, Qt.Key.Key_Right)  # one column: nothing to move to
    assert view.currentIndex().row() == 4
    QTest.keyClick(view, Qt.Key.Key_PageDown)
    assert view.currentIndex().row() > 4 + 5
    QTest.keyClick(view, Qt.Key.Key_End)
    assert view.currentIndex().row() == model.total - 1
    qtbot.waitUntil(lambda: model.row_at(model.total - 1) is not None)
    QTest.keyClick(view, Qt.Key.Key_Home)
    assert view.currentIndex().row() == 0
    assert view.verticalScrollBar().value() == 0
    rect = view.visualRect(model.index(0))
    assert rect.height() == style.ROW_HEIGHT
    assert rect.width() >= view.viewport().width() - 1
    # Shift+click on the third row: rows 0..2 selected, as rows.
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier,
                     QPoint(200, 2 * style.ROW_HEIGHT + style.ROW_HEIGHT // 2))
    assert sorted(i.row() for i in view.selectionModel().selectedRows()) == [0, 1, 2]
    # The current row (2) shows the focus frame the other selected rows do not.
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    image = view.viewport().grab().toImage()

    def edge(row: int) -> list[int]:  # the row's left edge, where only its background is
        rect = view.visualRect(model.index(row))
        return [image.pixel(x, rect.center().y()) for x in range(3)]
    assert edge(1) == edge(0)
    assert edge(2) != edge(1)
