"""The main window for an analyst with a screen reader: what is said for a warning's
sign, for the queue panel's group headings, and while J is held down the item list.

Read through Qt's accessibility interface, as a screen reader reads the app; what is
announced is caught where the app hands it to Qt (the ``heard`` fixture)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QLabel, QWidget
from test_screen_reader_s14 import heard  # noqa: F401 - the fixture, used by name
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.words import plural
from crisisdesk.gui import task_focus
from crisisdesk.gui.queue_panel import QueuePanel
from crisisdesk.gui.worker import Background

SIGN = "\u26a0"  # WARNING SIGN


def _said(widget: QWidget) -> str:
    """What a screen reader says for ``widget``: its name, then its description."""
    iface = QAccessible.queryAccessibleInterface(widget)
    return " ".join(iface.text(t) for t in (QAccessible.Text.Name,
                                            QAccessible.Text.Description))


def test_each_warning_sign_is_said_as_warning(qtbot, demo_like_project: Project) -> None:
    """The bar of labels not saved and the status bar's word on unused label schemes
    start with a warning sign: a screen reader said "warning sign" or the symbol's
    code, or (the schemes' word, named by its owner) nothing of the warning at all."""
    window = open_window(qtbot, demo_like_project)
    window.save_warning.not_saved("The label of item 3 (damage: none) was not saved: "
                                  "the drive is full")
    window.scheme_warning._show([f"{demo_like_project.db_path}: the label scheme of task "
                                 "'water' cannot be used"])
    signed = [w for w in window.findChildren(QLabel) if SIGN in QLabel.text(w)]
    assert len(signed) == 2  # both warnings are shown, with their sign
    for label in signed:
        said = _said(label)
        assert "Warning: " in said, said
        shown = label.text().replace(SIGN, "").strip()
        if label.textFormat() == Qt.TextFormat.RichText:
            shown = shown.replace("<a href='why'>why…</a>", "why…")
        assert shown in said, (shown, said)  # the warning's own words, all of them
    unsigned = [(type(w).__name__, _said(w)) for w in window.findChildren(QWidget)
                if SIGN in _said(w)]
    assert not unsigned  # the bar around the label says it in words too


def test_the_queue_headings_have_no_empty_cells(qtbot, demo_like_project: Project) -> None:
    """A group heading ("Damage", "Events") spans the row, and its count cell, empty, was
    still read: a screen reader said "blank" after each heading; the hidden columns'
    headers were said "1" and "2"."""
    window = open_window(qtbot, demo_like_project)
    queues = window.queues
    tree = QAccessible.queryAccessibleInterface(queues)
    cells = [tree.child(n) for n in range(tree.childCount())]
    rows = [c.text(QAccessible.Text.Name) for c in cells
            if c.role() == QAccessible.Role.TreeItem]
    headers = [c.text(QAccessible.Text.Name) for c in cells
               if c.role() == QAccessible.Role.ColumnHeader]
    assert all(name.strip() for name in rows), rows
    assert headers and not any(name.strip().isdigit() for name in headers), headers
    for n in range(queues.topLevelItemCount()):  # each heading says what it holds
        heading = queues.topLevelItem(n)
        at = rows.index(heading.text(0))
        assert rows[at + 1] == plural(heading.childCount(), "queue"), rows[at:at + 2]
    counting = QueuePanel(demo_like_project, Background(), None)  # before the counts
    qtbot.addWidget(counting)
    tree = QAccessible.queryAccessibleInterface(counting)
    said = [tree.child(n).text(QAccessible.Text.Name) for n in range(tree.childCount())]
    assert all(name.strip() for name in said), said


def _keys_rest(timer: QTimer) -> None:
    """The keys have rested as long as the panel waits: its wait ends now, if running."""
    if timer.isActive():
        timer.stop()
        timer.timeout.emit()


def test_moving_on_quickly_says_only_the_item_the_keys_stop_on(
        qtbot, monkeypatch: pytest.MonkeyPatch, demo_like_project: Project,
        heard: list[tuple[str, object]]) -> None:
    """J held down: each item the panel showed on the way had its focused task
    announced, and the screen reader went on reading items the analyst had passed."""
    # Only the test says when the keys have stopped (no clock in the test).
    monkeypatch.setattr(task_focus, "SAY_AFTER_MS", 3_600_000, raising=False)
    window = open_window(qtbot, demo_like_project)
    panel = window.detail
    settle(qtbot, window)
    heard.clear()
    for _ in range(3):  # each shown on the way, as a quick read shows it
        qtbot.keyClick(window.items, Qt.Key.Key_J)
        qtbot.waitUntil(lambda: panel.detail is not None
                        and panel.detail.row.id == window.current_row().id)
    settle(qtbot, window)
    assert heard == []  # nothing said while the keys move on
    timer = panel._say_later
    assert timer.isActive()
    _keys_rest(timer)
    box = panel.task_boxes[panel.focused_task]
    assert heard == [(box.in_words(), box)], heard  # once, the item the keys stopped on

    heard.clear()  # Tab before the wait is over: the Tab's box, said once
    qtbot.keyClick(window.items, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: panel.detail is not None
                    and panel.detail.row.id == window.current_row().id)
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)
    box = panel.task_boxes[panel.focused_task]
    assert heard == [(box.in_words(), box)], heard
    _keys_rest(timer)
    assert heard == [(box.in_words(), box)], heard
