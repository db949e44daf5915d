"""Today's new windows and lines as an analyst meets them: the label history reached
from the keyboard, following the panel when it shows no item, named, on screen, and
giving the keys back when closed; the export's progress line readable at a glance; the
status line on a left-out label scheme saying what is wrong before the edge cuts it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication
from window_helpers import open_window, settle

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange
from crisisdesk.gui import keys as labelling_keys
from crisisdesk.gui import label_history
from crisisdesk.core.bidi import unmarked
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.help_overlay import HelpOverlay


def _label_twice(project: Project, item: int, task: str, classes: tuple[str, ...]) -> None:
    with project.open_store() as store:
        store.add_labels([LabelChange(item, task, classes[0])], annotator="amina")
        store.add_labels([LabelChange(item, task, classes[1])], annotator="omar")


def test_a_key_opens_the_history_of_the_focused_task_and_the_help_lists_it(
        qtbot, demo_like_project: Project) -> None:
    """The History link needed a mouse: Tab moves between tasks, so it never reached it."""
    window = open_window(qtbot, demo_like_project)
    second = window.detail.task_boxes[1].view
    _label_twice(demo_like_project, window.current_row().id, second.task, second.classes)
    window.detail.reload()
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)  # the second task is focused
    history_keys = [keys for keys, what in labelling_keys.SHORTCUTS if "history" in what]
    assert history_keys == ["H"]
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    popup = window.detail.history
    qtbot.waitUntil(lambda: len(popup.events) == 2)
    assert popup.isVisible() and popup.task == second.task
    assert "key: H" in window.detail.task_boxes[1].history_link.toolTip()
    window.help.toggle()
    help_card = window.findChild(HelpOverlay)
    assert "H" in help_card.text.text() and "label history" in help_card.text.text()


def test_the_history_names_its_item_and_task_even_before_any_label(
        qtbot, demo_like_project: Project) -> None:
    """With no label yet the window said only "damage", its title "Label history"
    whatever it showed: which item was that?"""
    window = open_window(qtbot, demo_like_project)
    uid = window.current_row().uid
    task = window.detail.task_boxes[-1].view.task
    qtbot.keyClick(window.items, Qt.Key.Key_Backtab)  # the last task
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    popup = window.detail.history
    qtbot.waitUntil(lambda: "No label given yet" in popup.rows.text())
    # Read without the direction marks that keep an Arabic source's id in order.
    assert uid in unmarked(popup.title.text()) and task in popup.title.text()
    assert uid in unmarked(popup.windowTitle()) and task in popup.windowTitle()


def test_the_history_says_so_when_the_panel_shows_no_item(
        qtbot, demo_like_project: Project) -> None:
    """A search matching nothing emptied the panel; the history went on showing the
    last item's changes as if they were of the (absent) item."""
    window = open_window(qtbot, demo_like_project)
    task = window.detail.task_boxes[0].view
    item = window.current_row()
    _label_twice(demo_like_project, item.id, task.task, task.classes)
    window.detail.reload()
    settle(qtbot, window)
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    popup = window.detail.history
    qtbot.waitUntil(lambda: len(popup.events) == 2)
    window.search.setText("nothing-matches-this-zebra")
    qtbot.waitUntil(lambda: window.detail.item_id is None, timeout=5000)
    settle(qtbot, window)
    assert popup.events == []
    assert item.uid not in unmarked(popup.title.text())
    assert item.uid not in unmarked(popup.windowTitle())
    assert "No item selected" in popup.title.text()
    assert "amina" not in popup.rows.text()
    # An item shown again: the history follows it, for the same task.
    window.search.setText("")
    qtbot.waitUntil(lambda: window.detail.item_id is not None, timeout=5000)
    qtbot.waitUntil(lambda: popup.item_id == window.detail.item_id and (
        bool(popup.events) or "No label given yet" in popup.rows.text()), timeout=5000)
    assert popup.task == task.task


def test_closing_the_history_gives_the_keys_back_to_the_list(
        qtbot, demo_like_project: Project) -> None:
    """Closed with Esc, the history left no widget with the focus: J, K and the number
    keys did nothing until the analyst clicked into the window."""
    window = open_window(qtbot, demo_like_project)
    qtbot.keyClick(window.items, Qt.Key.Key_H)
    popup = window.detail.history
    qtbot.waitUntil(popup.isVisible)
    popup.activateWindow()  # as a window manager does with a tool window shown
    qtbot.waitUntil(popup.isActiveWindow)
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.items)
    first = window.current_row().id
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.current_row() is not None
                    and window.current_row().id != first)


def test_the_history_opens_on_the_screen(qtbot, demo_like_project: Project,
                                         monkeypatch) -> None:
    """It opened at the pointer, 12 pixels right of the History link, itself at the
    screen's right edge in a maximized window: most of it was past the edge."""
    window = open_window(qtbot, demo_like_project)
    screen = window.screen().availableGeometry()

    class Pointer:  # where the analyst clicked: the screen's bottom right corner
        @staticmethod
        def pos() -> QPoint:
            return screen.bottomRight() - QPoint(5, 5)

    monkeypatch.setattr(label_history, "QCursor", Pointer)
    window.detail.task_boxes[0].history_link.linkActivated.emit("history")
    popup = window.detail.history
    qtbot.waitUntil(popup.isVisible)
    assert screen.contains(QRect(popup.pos(), popup.size())), (popup.geometry(), screen)


def test_the_exports_progress_line_names_the_file_not_its_whole_path(
        qtbot, demo_like_project: Project, tmp_path: Path) -> None:
    """"Writing /home/…/exports/labels.csv: 2,000 of 100,000 items…" repeated the path
    shown just above it; the count, wrapped to a second line, was what was new."""
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    out = tmp_path / "a" / "long" / "folder" / "labels.csv"
    dialog._on_progress(out, Progress(2000, 100_000, "", ""))
    shown = dialog.status.text()
    assert "labels.csv" in shown and "2,000 of 100,000 items" in shown
    assert str(out.parent) not in shown



def test_the_status_line_on_a_left_out_scheme_starts_with_the_task_not_a_path(
        qtbot, demo_like_project: Project) -> None:
    """The status bar showed "/home/…/project.sqlite: the label scheme of task 'urg…",
    cut at the edge: the store's path (in the tooltip and "why…" already) took the room
    of what was wrong."""
    from test_received_project_s12 import _add_stored_scheme

    from crisisdesk.gui.main_window import MainWindow

    _add_stored_scheme(demo_like_project, "urgency", "{not json")
    window = MainWindow(demo_like_project, annotator="tester")
    qtbot.addWidget(window)
    window.show()
    bar = window.statusBar()
    qtbot.waitUntil(lambda: "urgency" in bar.currentMessage(), timeout=5000)
    said = bar.currentMessage()
    assert str(demo_like_project.db_path) not in said
    assert said.index("'urgency'") < 60 and "cannot be used" in said
    assert str(demo_like_project.db_path) in window.scheme_warning.toolTip()
