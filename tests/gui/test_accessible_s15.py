"""The app for an analyst with a screen reader, the leftovers of the last audit: what is
said for a label whose long words wrap, for the marks of the task boxes' and the item
list's rows, for the next item's focused task and for the retrain report's pages.

Read through Qt's accessibility interface, as a screen reader reads the app; what is
announced is caught where the app hands it to Qt (the ``heard`` fixture)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QLabel
from test_retrain_terms_s13 import _dialog
from test_screen_reader_s14 import heard  # noqa: F401 - the fixture, used by name
from window_helpers import open_window, settle

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import display_name
from crisisdesk.gui.wrapping import BREAK, WrappingLabel

#: A CrisisMMD-like tweet: a hashtag run and a URL, words the label must break.
LONG = ("Flooding #HurricaneHarveyRelief#HoustonStrong#PrayForTexas "
        "https://example.org/harvey/shelters_and_food_points_open_tonight")


def _said(widget, text: QAccessible.Text = QAccessible.Text.Name) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(text)


def test_a_label_with_wrapped_long_words_is_said_as_written(
        qtbot, demo_like_project: Project) -> None:
    """The zero-width spaces that let a hashtag run wrap were read with the words: the
    post text and its caption were said in pieces ("HurricaneHarvey ... Relief")."""
    window = open_window(qtbot, demo_like_project)
    panel = window.detail
    for label, rich in ((panel.text, False), (panel.caption, True)):
        label.setText(f"<b>{LONG}</b>" if rich else LONG)
        assert BREAK in QLabel.text(label)  # painted with breaks...
        said = _said(label)
        assert BREAK not in said, ascii(said)  # ...said without them
        assert said == LONG
    auto = WrappingLabel(LONG)  # Qt's own guess of the format: plain text here
    qtbot.addWidget(auto)
    assert _said(auto) == LONG
    named = WrappingLabel()  # a name given by its owner stays, whatever the text
    qtbot.addWidget(named)
    named.setAccessibleName("Post text")
    named.setText(LONG)
    assert _said(named) == "Post text"


def test_the_labelled_class_of_a_task_box_says_its_mark_in_words(
        qtbot, demo_like_project: Project) -> None:
    """The labelled class carries a painted check mark: a screen reader said "mild damage
    check mark", or the symbol's code, not that it is the item's label."""
    window = open_window(qtbot, demo_like_project)
    labelled = next(n for n in range(window.model.total)
                    if "damage" in window.model.row_at(n).labels)
    window.items.setCurrentIndex(window.model.index(labelled))
    qtbot.waitUntil(lambda: window.detail.detail is not None
                    and window.detail.detail.row.id == window.current_row().id)
    box = next(b for b in window.detail.task_boxes if b.view.task == "damage")
    label = box.view.label
    names = [w for w, cls in box._row_of.items()
             if cls == label and isinstance(w, WrappingLabel)]
    assert names and "✓" in names[0].text()  # the mark is painted
    said = _said(names[0])
    assert "✓" not in said and display_name(label) in said, said
    assert "the item's label" in said  # the words of the list's legend for the mark


def test_an_item_row_whose_image_failed_says_unreadable(qtbot, demo_like_project: Project
                                                         ) -> None:
    """An image damaged since the import: its row's tile says "unreadable", and a screen
    reader said "Image", as for a row whose picture shows."""
    source = demo_like_project.root.parent / "posts_src" / "p1.jpg"
    source.write_bytes(b"damaged since the import")
    window = open_window(qtbot, demo_like_project)
    row = next(n for n in range(window.model.total)
               if window.model.row_at(n).image_path == str(source))
    index = window.model.index(row)
    window.items.viewport().update()
    qtbot.waitUntil(lambda: "could not be read" in (index.data(Qt.ItemDataRole.ToolTipRole)
                                                    or ""))
    said = index.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "Image unreadable." in said, said
    fine = next(n for n in range(window.model.total)
                if window.model.row_at(n).image_path not in (None, str(source)))
    assert "Image." in window.model.index(fine).data(Qt.ItemDataRole.AccessibleTextRole)


def test_the_next_and_previous_item_say_the_focused_task(
        qtbot, demo_like_project: Project, heard: list[tuple[str, object]]) -> None:
    """Tab said the focused task's box; J did not: on the next item a screen reader said
    the row, and the analyst pressed a number key not knowing for which task or what the
    model predicted."""
    window = open_window(qtbot, demo_like_project)
    panel = window.detail
    qtbot.keyClick(window.items, Qt.Key.Key_Tab)  # the second task: kept on the next item
    for key in (Qt.Key.Key_J, Qt.Key.Key_K):
        before = panel.item_id
        heard.clear()
        qtbot.keyClick(window.items, key)
        qtbot.waitUntil(lambda before=before: panel.item_id != before
                        and panel.detail is not None and panel.detail.row.id == panel.item_id)
        settle(qtbot, window)
        qtbot.waitUntil(lambda: bool(heard))  # said once the keys rest on the item
        box = panel.task_boxes[panel.focused_task]
        assert box.view.task == panel.task_boxes[1].view.task
        assert heard == [(box.in_words(), box)], heard
    heard.clear()  # a label given: the status line is said, the box not again
    qtbot.keyClick(window.items, Qt.Key.Key_1)
    settle(qtbot, window)
    assert [said for said, _ in heard] == [window.statusBar().currentMessage()], heard


def test_each_page_of_the_retrain_report_is_named(qtbot, demo_like_project: Project) -> None:
    """A task's page of the retrain report scrolls, and Tab reaches it: a screen reader
    said "client", not whose page it is."""
    dialog = _dialog(qtbot, demo_like_project)
    tabs = dialog.tabs
    for n in range(tabs.count()):
        page = tabs.widget(n)
        assert page.focusPolicy() & Qt.FocusPolicy.TabFocus  # the keys reach it
        assert _said(page) and _said(page) == tabs.tabBar().accessibleTabName(n)


def test_select_all_in_a_label_of_guessed_format_selects_its_text(qtbot) -> None:
    """"Select All" from the menu of a label left to guess its format raised an error
    (the check for markup was looked up where PySide has none) and selected nothing."""
    label = WrappingLabel(LONG)
    qtbot.addWidget(label)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label._select_all()
    assert label.selectedText() == LONG
