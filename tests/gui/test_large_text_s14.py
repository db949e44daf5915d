"""The app for an analyst with large text (the desktop's font at 150 %): texts painted
under the overlay's colour bars were cut in half by a height fixed for the usual font."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget
from window_helpers import open_window

from crisisdesk.core.project import Project


@pytest.fixture
def large_font(qapp: QApplication):
    """The application font at 1.5 times its point size, as a user with large text has
    it; put back afterwards."""
    before = qapp.font()
    large = qapp.font()
    large.setPointSizeF(before.pointSizeF() * 1.5)
    qapp.setFont(large)
    yield qapp
    qapp.setFont(before)


def _ink_in_last_row(widget: QWidget) -> bool:
    """Whether anything is painted in ``widget``'s bottom pixel row (a text cut by the
    widget's bottom edge leaves its ink there)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    y = image.height() - 1
    background = image.pixel(image.width() - 1, y)
    return any(image.pixel(x, y) != background for x in range(image.width()))


def test_the_overlay_legend_and_share_bar_fit_large_text(
        qtbot, large_font, demo_like_project: Project) -> None:
    """The legend's "where the evidence lies" and the share bar's "image 62%" are painted
    under their bars, in a strip 30 pixels high whatever the font: at 150 % only their
    top half showed."""
    window = open_window(qtbot, demo_like_project)
    window.resize(1366, 768)
    bar = window.detail.overlay_bar
    window.detail.overlay.setChecked(True)
    qtbot.waitUntil(bar.isVisible)
    bar.share.set_share({"image": 0.62, "text": 0.38, "basis": "test"})
    for strip in (bar.legend, bar.share):
        qtbot.waitUntil(lambda strip=strip: strip.height() > 0)
        assert not _ink_in_last_row(strip), type(strip).__name__
