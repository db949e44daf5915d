"""What the app tests do to a main window: open it on a project and wait until it shows
its first item, wait for its writes and queries, read the labels back."""

from __future__ import annotations

from pathlib import Path

from crisisdesk.core.project import Project
from crisisdesk.gui.main_window import MainWindow

ANNOTATOR = "tester"


def open_window(qtbot, project: Project) -> MainWindow:
    """A main window on ``project``, shown, with its first item and its queues loaded."""
    window = MainWindow(project, annotator=ANNOTATOR)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.detail.detail is not None and window.model.total > 0)
    qtbot.waitUntil(lambda: len(window.queues._items) > 1)
    window.items.setFocus()
    return window


def open_in_app(qtbot, root: Path, annotator: str = ANNOTATOR, timeout: int = 60_000):
    """Open the project at ``root`` as ``crisisdesk open ROOT`` does (the app's Opener:
    found, checked and upgraded off the UI thread); the opener once its window is up."""
    from crisisdesk.gui import app

    app.make_application()
    opener = app.open_project_window(str(root), annotator=annotator)
    qtbot.waitUntil(lambda: opener.window is not None or opener.failure is not None,
                    timeout=timeout)
    assert opener.failure is None
    qtbot.addWidget(opener.window)
    return opener


def settle(qtbot, window: MainWindow) -> None:
    """Wait until every label write and every background call has reported back."""
    qtbot.waitUntil(lambda: not window.labeller.busy() and not window.background.busy())


def current_labels(project: Project, task: str) -> dict[int, str]:
    with project.open_store() as store:
        return {item: label for item, label, _ in store.labelled_items(task)}


def work_down(qtbot, window: MainWindow, key, count: int) -> list[int]:
    """Press ``key`` then J on ``count`` items in turn, as an analyst works down a queue;
    the ids of the items shown, in order."""
    from PySide6.QtCore import Qt

    shown = []
    for _ in range(count):
        qtbot.waitUntil(lambda: window.current_row() is not None
                        and window.detail.item_id == window.current_row().id)
        shown.append(window.current_row().id)
        qtbot.keyClick(window.items, key)
        settle(qtbot, window)
        qtbot.keyClick(window.items, Qt.Key.Key_J)
        settle(qtbot, window)
    return shown
