"""Second review of the day's app changes: what an analyst met once they were in."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.task_box import TaskBox


def test_the_post_text_stays_in_view_when_the_focused_box_is_scrolled_to(
        qtbot, demo_like_project: Project) -> None:
    """Working the humanitarian queue on a 1280x720 laptop, each new item scrolled the
    detail panel down to show the humanitarian box whole: the post's text, what is
    labelled, went above the fold on every item. The text stays; the box's title shows."""
    window = open_window(qtbot, demo_like_project)
    window.resize(1280, 720)
    detail = window.detail
    qtbot.waitUntil(lambda: len(detail.task_boxes) == 3)
    detail.focus_task("humanitarian")
    first = TaskBox.focused_in(window)
    window.move(1)
    qtbot.waitUntil(lambda: (b := TaskBox.focused_in(window)) is not None
                    and b is not first and b.view.task == "humanitarian")
    qtbot.waitUntil(lambda: not detail._show_box.isActive())
    viewport = detail.scroll.viewport()
    assert detail.text.mapTo(viewport, QPoint(0, 0)).y() >= 0  # the text's first line
    box = TaskBox.focused_in(window)
    assert box.mapTo(viewport, QPoint(0, 0)).y() < viewport.height() - 20  # its title
