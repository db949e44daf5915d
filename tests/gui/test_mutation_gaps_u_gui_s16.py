"""Behaviours of session 16's window pieces that no test held (found by planting bugs):
the empty-list hint follows its list's size, and the queue column's width stays between
its default and its share of a wide window, and widens when the window does."""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget
from window_helpers import ANNOTATOR

from crisisdesk.core.project import Project
from crisisdesk.gui.empty_hint import EmptyHint
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.queue_panel import QUEUE_WIDTH


def test_the_empty_hint_covers_its_list_after_a_resize(qtbot) -> None:
    view = QListWidget()
    qtbot.addWidget(view)
    view.resize(200, 120)
    hint = EmptyHint(view, "No files yet: Add files…")
    view.show()
    qtbot.waitExposed(view)
    view.resize(640, 420)  # the dialog made larger: the hint's words use the room
    qtbot.waitUntil(lambda: view.viewport().width() > 500)
    qtbot.waitUntil(lambda: hint.geometry() == view.viewport().rect(), timeout=2000)
    assert hint.isVisible()


def _window(qtbot, project: Project, width: int, names_want: int) -> MainWindow:
    """A main window ``width`` pixels wide whose queue names want ``names_want`` pixels
    to sit on one line each."""
    window = MainWindow(project, annotator=ANNOTATOR)
    qtbot.addWidget(window)
    window.queues.one_line_width = lambda: names_want  # type: ignore[method-assign]
    window.resize(width, 1000)
    window.show()
    qtbot.waitUntil(lambda: len(window.queues._items) > 1)
    window.columns.fit_queues()
    return window


def test_short_queue_names_keep_the_default_column(qtbot, demo_like_project) -> None:
    window = _window(qtbot, demo_like_project, 1920, names_want=90)
    assert window.columns.sizes()[0] >= QUEUE_WIDTH


def test_long_queue_names_leave_the_item_list_its_room(qtbot, demo_like_project) -> None:
    window = _window(qtbot, demo_like_project, 1920, names_want=3000)
    queues, *others = window.columns.sizes()
    assert queues > QUEUE_WIDTH  # it widened, within its share
    assert queues < sum(others)


def test_the_queue_column_widens_with_the_window(qtbot, demo_like_project) -> None:
    window = _window(qtbot, demo_like_project, 1400, names_want=500)
    assert window.columns.sizes()[0] < 500  # no room for them at the default width
    window.resize(1920, 1000)  # maximised: the names get their one line
    qtbot.waitUntil(lambda: window.columns.sizes()[0] >= 500, timeout=2000)
