"""The app for an analyst with large text (the application font at 150 %) on a 1366 x 768
screen: the queue names and the retrain report's class names were cut short ("Predicted:
severe da…", "affected individu…"), the whole name only in a tooltip.

What is checked is what Qt lays out or paints: each name's text measured with the font it
is drawn in, against the room it is drawn in."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle
from test_large_text_s14 import large_font  # noqa: F401 - the fixture, used by name
from test_small_screens_s12 import _report
from window_helpers import open_window

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import display_name
from crisisdesk.gui.dialogs import charts
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

WRAP = int(Qt.TextFlag.TextWordWrap)
#: Class names of CrisisMMD's humanitarian task, the longest the report shows.
HUMANITARIAN = ["affected_individuals", "infrastructure_and_utility_damage",
                "rescue_volunteering_or_donation_effort", "other_relevant_information",
                "not_humanitarian"]


def _fits(metrics: QFontMetrics, room: QRect, text: str) -> bool:
    """Whether ``text``, wrapped at its words, fits ``room`` whole."""
    needed = metrics.boundingRect(QRect(0, 0, room.width(), 100_000), WRAP, text)
    return needed.width() <= room.width() and needed.height() <= room.height()


def test_the_queue_names_are_whole_at_large_text(qtbot, large_font,
                                                 demo_like_project: Project) -> None:
    window = open_window(qtbot, demo_like_project)
    window.resize(1366, 768)
    queues = window.queues
    qtbot.waitUntil(lambda: queues.viewport().width() > 0)
    metrics = queues.fontMetrics()
    margin = queues.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
    cut = []
    for item in queues._items.values():
        rect = queues.visualRect(queues.indexFromItem(item, 0))
        room = rect.adjusted(margin, 0, -margin, 0)
        if not _fits(metrics, room, item.text(0)):
            cut.append((item.text(0), room.size().toTuple()))
    assert not cut, cut


class _Recorder(QPainter):
    """A painter that keeps each text drawn in a rectangle, with the font it was drawn in
    (the charts' class names)."""

    drawn: list[tuple[str, QRect, QFontMetrics]] = []

    def drawText(self, *args) -> None:  # noqa: N802 - Qt's name
        if len(args) == 3 and isinstance(args[0], (QRect, QRectF)):
            rect = args[0].toRect() if isinstance(args[0], QRectF) else args[0]
            self.drawn.append((args[2], rect, QFontMetrics(self.font())))
        super().drawText(*args)


def test_the_retrain_charts_name_each_class_whole_at_large_text(
        qtbot, large_font, demo_like_project: Project, monkeypatch) -> None:
    monkeypatch.setattr(charts, "QPainter", _Recorder)
    dialog = RetrainDialog(demo_like_project, _report({"humanitarian": HUMANITARIAN}))
    qtbot.addWidget(dialog)
    dialog.resize(1366, 768)
    dialog.show()
    page = dialog.pages["humanitarian"]
    for chart in (*page.findChildren(charts.F1Bars), page.new_grid, page.active_grid):
        _Recorder.drawn = []
        chart.grab()
        names = {display_name(c) for c in HUMANITARIAN}
        drawn = {text: (rect, metrics) for text, rect, metrics in _Recorder.drawn}
        for name in names:  # each class's row name, whole, in the room it is drawn in
            assert name in drawn, (type(chart).__name__, name, list(drawn))
            rect, metrics = drawn[name]
            assert _fits(metrics, rect, name), (name, rect.size().toTuple())
