"""The app as an analyst sees it (session 16): words an analyst does not know in the
first thing a new project shows, and the queue names squeezed into a narrow column while
the rest of a wide window stood empty at a large font."""

from __future__ import annotations

from PySide6.QtWidgets import QStyle
from test_large_text_s14 import large_font  # noqa: F401 - the fixture, used by name
from test_leftovers_gui_s14 import _shown
from window_helpers import ANNOTATOR, open_window

from crisisdesk.core.project import Project
from crisisdesk.gui.main_window import MainWindow

#: Names of the code's parts, not words of the analyst's: "the shipped head",
#: "zero-shot".
INTERNAL_WORDS = ("head", "zero-shot", "shipped")


def test_a_new_projects_advice_says_what_to_do_in_plain_words(
        qtbot, demo_like_project: Project) -> None:
    """Every task box of a new project said "Predict starts the shipped head or
    zero-shot where it can": the analyst has no way to know a head or a zero-shot."""
    window = open_window(qtbot, demo_like_project)
    boxes = window.detail.task_boxes
    shown = " ".join(_shown(box) for box in boxes)
    assert "Predict" in shown and "Retrain" in shown, shown  # the actions to use, named
    said = [word for word in INTERNAL_WORDS if word in shown.lower()]
    assert not said, (said, shown)


def _wrapped_names(window) -> list[str]:
    """The queue names drawn on more than one line: wider than the room of their row."""
    queues = window.queues
    metrics = queues.fontMetrics()
    margin = queues.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
    return [item.text(0) for item in queues._items.values()
            if metrics.horizontalAdvance(item.text(0))
            > queues.visualRect(queues.indexFromItem(item, 0)).width() - 2 * margin]


def _wide_window(qtbot, project: Project) -> MainWindow:
    """A main window as the app opens it on a 1920 x 1080 screen: sized, then shown."""
    window = MainWindow(project, annotator=ANNOTATOR)
    qtbot.addWidget(window)
    window.resize(1920, 1040)
    window.show()
    qtbot.waitUntil(lambda: len(window.queues._items) > 1)
    return window


def test_the_queue_names_are_on_one_line_in_a_wide_window_at_large_text(
        qtbot, large_font, demo_like_project: Project) -> None:
    """At 150 % text on a 1920-pixel screen the queue column stayed 280 pixels: 16 of 26
    queue names wrapped to two or three lines (the queues ran off the panel's foot)
    beside an item list with 300 pixels of nothing to the right of its texts."""
    window = _wide_window(qtbot, demo_like_project)
    qtbot.waitUntil(lambda: not _wrapped_names(window), timeout=3000)
    assert window.queues.width() < window.width() / 3  # the item list keeps its room


def test_a_queue_column_the_analyst_sized_keeps_its_width(
        qtbot, large_font, demo_like_project: Project) -> None:
    """The column fits its names until the analyst drags its edge: then that width
    stays, whatever the window's size or the counts that come in later."""
    window = _wide_window(qtbot, demo_like_project)
    splitter = window.columns
    splitter.moveSplitter(300, 1)
    chosen = splitter.sizes()[0]
    window.resize(1800, 1000)
    window.queues.refresh()
    qtbot.waitUntil(lambda: not window.background.busy())
    qtbot.wait(50)
    assert splitter.sizes()[0] == chosen
