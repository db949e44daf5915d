"""Review of session 13's changes: what an analyst sees of them in the window."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QMenu, QToolTip
from window_helpers import open_window, settle

from crisisdesk.core.project import Project


def _hover_tooltip(qtbot, menu: QMenu, action) -> str:
    """The tooltip a pointer resting on ``action`` in the open ``menu`` brings up."""
    QToolTip.hideText()
    menu.popup(menu.parentWidget().mapToGlobal(QPoint(0, 0)))
    qtbot.waitUntil(menu.isVisible)
    at = menu.actionGeometry(action).center()
    QApplication.sendEvent(menu, QHelpEvent(QEvent.Type.ToolTip, at, menu.mapToGlobal(at)))
    text = QToolTip.text() if QToolTip.isVisible() else ""
    menu.hide()
    return text


def test_the_edit_menu_shows_why_undo_is_grey(qtbot, demo_like_project: Project) -> None:
    """Undo and Redo turn grey while a big undo is written, with a tooltip saying why: a
    menu shows no tooltips unless told to, so the pointer on the grey item showed
    nothing, and the analyst was left to guess."""
    window = open_window(qtbot, demo_like_project)
    settle(qtbot, window)
    actions = window.actions_
    edit = next(m for m in window.menuBar().findChildren(QMenu)
                if actions.undo in m.actions())
    # What the labeller sends while an undo waits behind a big step being written.
    window.labeller.reverting_refused.emit("undoing 1,200 labels")
    assert not actions.undo.isEnabled()
    assert "undoing 1,200 labels" in _hover_tooltip(qtbot, edit, actions.undo)
    assert "undoing 1,200 labels" in _hover_tooltip(qtbot, edit, actions.redo)
    window.labeller.reverting_refused.emit("")  # it landed
    assert actions.undo.isEnabled()
    # Taken again: nothing to explain, no tooltip repeating the item's own text.
    assert _hover_tooltip(qtbot, edit, actions.undo) == ""
