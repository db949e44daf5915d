"""An analyst with a screen reader labelling from the keyboard: what is said when Tab
moves the focused task and a label is given, undone or redone (the outline and the status
bar told only who sees them), and what the detail header, the scroll areas and the
History links are called.

Read through Qt's accessibility interface, as a screen reader reads the app; what is
announced is caught where the app hands it to Qt (``QAccessible.updateAccessibility``).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QScrollArea, QWidget
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.bidi import MARKS
from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog


def _said(widget, text: QAccessible.Text = QAccessible.Text.Name) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(text)


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """(text, object it is sent for) of each announcement the app sends, in order."""
    said: list[tuple[str, object]] = []
    sent = QAccessible.updateAccessibility

    def spy(event) -> None:
        if event.type() == QAccessible.Event.Announcement:
            said.append((event.message(), event.object()))
        sent(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", staticmethod(spy))
    return said


def test_tab_and_each_label_given_undone_or_redone_are_announced(
        qtbot, demo_like_project: Project, heard: list[tuple[str, object]]) -> None:
    """Tab outlined another task box and "1" put "damage: none" in the status bar: a
    screen reader said nothing of either, and the analyst labelled blind."""
    window = open_window(qtbot, demo_like_project)
    panel = window.detail
    assert len(panel.task_boxes) > 1
    for key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
        heard.clear()
        qtbot.keyClick(window.items, key)
        box = panel.task_boxes[panel.focused_task]
        # What its box says to a screen reader, for the box: one wording.
        assert heard == [(box.in_words(), box)], heard
    status = window.statusBar()
    for key, mods in ((Qt.Key.Key_1, Qt.KeyboardModifier.NoModifier),
                      (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
                      (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.ShiftModifier)):
        heard.clear()
        qtbot.keyClick(window.items, key, mods)
        settle(qtbot, window)
        shown = status.currentMessage()
        assert shown  # given, "undone", "redone": the status bar's line...
        assert heard == [(shown, status)], (shown, heard)  # ...is said, the same words


def test_nothing_is_announced_where_qt_has_no_announcements(
        qtbot, monkeypatch: pytest.MonkeyPatch, heard: list[tuple[str, object]]) -> None:
    """PySide6 before 6.8 has no announcement event: nothing is sent, nothing fails."""
    from crisisdesk.gui import announce

    widget = QWidget()
    qtbot.addWidget(widget)
    announce.announce(widget, "damage: none")
    assert heard == [("damage: none", widget)]
    monkeypatch.setattr(announce, "Announcement", None)
    heard.clear()
    announce.announce(widget, "damage: none")
    assert heard == []


def test_the_detail_header_is_said_without_direction_marks(
        qtbot, demo_like_project: Project) -> None:
    """The header's item id carries invisible direction marks (for a source named in
    Arabic): a screen reader read them out with the words ("left-to-right mark")."""
    window = open_window(qtbot, demo_like_project)
    header = window.detail.header
    uid = window.detail.detail.row.uid
    assert any(mark in header.text() for mark in MARKS)  # painted: still marked
    for text in (QAccessible.Text.Name, QAccessible.Text.Description):
        said = _said(header, text)
        assert not any(mark in said for mark in MARKS), ascii(said)
    assert uid in _said(header)
    history = window.detail.history
    history.show_task(window.detail.task_boxes[0].view.task)
    qtbot.waitUntil(lambda: history.item_id == window.detail.item_id)
    for widget in (history, history.title):
        said = _said(widget)
        assert uid in said and not any(mark in said for mark in MARKS), ascii(said)
    window.detail.clear()  # no item: nothing said of the last one
    assert uid not in _said(header)


def _focusable_scroll_areas(widget: QWidget) -> list[QScrollArea]:
    return [area for area in widget.findChildren(QScrollArea)
            if area.focusPolicy() & Qt.FocusPolicy.TabFocus]


def test_no_scroll_area_the_keys_reach_is_a_nameless_client(
        qtbot, demo_like_project: Project) -> None:
    """The detail, jobs, settings and label history scroll areas took Tab and were said
    as "client", no more."""
    window = open_window(qtbot, demo_like_project)
    window.detail.history.show_task(window.detail.task_boxes[0].view.task)
    settings = SettingsDialog()
    qtbot.addWidget(settings)
    areas = [*_focusable_scroll_areas(window), *_focusable_scroll_areas(settings)]
    # The detail's and the jobs' (in the window), the history's (a tool window, its
    # child): the keys scroll them. The settings' fields take the keys themselves.
    assert window.detail.scroll in areas
    assert window.actions_.jobs._scroll in areas
    assert not _focusable_scroll_areas(settings)
    for area in areas:
        assert _said(area), area
    assert "tasks" in _said(window.detail.scroll).lower()
    assert _said(window.actions_.jobs._scroll) == "Jobs"
    history = window.detail.history
    assert _said(next(iter(_focusable_scroll_areas(history)))) == _said(history)


def test_each_history_link_says_whose_history_it_is(qtbot, demo_like_project: Project
                                                     ) -> None:
    """Each task box's link was said as "History", the same for every task."""
    window = open_window(qtbot, demo_like_project)
    for box in window.detail.task_boxes:
        assert _said(box.history_link) == f"History of the {box.view.task} label"
        assert "History" in box.history_link.text()  # the painted word stays
