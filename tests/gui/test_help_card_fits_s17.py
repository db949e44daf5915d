"""The help card (F1) on a small screen with large text: since it explains the item
list's marks too it is ~616 px high at the usual font; at 1.5 times it on a 1366 x 768
screen it was taller (and wider) than the window, centred, so its heading "Keyboard
shortcuts" and its last lines ("Press any key to close") were cut off by the window's
edges, with no way to see them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget
from test_dialog_words_s16 import font_scale  # noqa: F401 - the fixture, used by name
from test_large_text_s14 import large_font  # noqa: F401 - the fixture, used by name

from crisisdesk.gui.help_overlay import HelpOverlay


def _shown(qtbot, width: int, height: int) -> tuple[QWidget, HelpOverlay]:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(width, height)
    parent.show()
    overlay = HelpOverlay(parent)
    overlay.toggle()
    qtbot.waitUntil(overlay.isVisible)
    return parent, overlay


def _whole_text_reachable(overlay: HelpOverlay) -> bool:
    """Whether every line of the card's text can be seen: the text lies inside the
    card, or what does not can be scrolled to."""
    scroll = overlay.scroll_area
    bar = scroll.verticalScrollBar()
    seen = scroll.viewport().height() + (bar.maximum() - bar.minimum())
    return seen >= overlay.text.heightForWidth(overlay.text.width()) \
        and overlay.text.width() <= scroll.viewport().width()


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080), (1024, 600)],
                         ids=["1366x768", "1920x1080", "1024x600"])
def test_the_help_card_lies_inside_the_window_and_all_its_text_can_be_read(
        qtbot, font_scale, size) -> None:
    parent, overlay = _shown(qtbot, *size)
    card = overlay.card.geometry()
    assert parent.rect().contains(card), (card, parent.rect())
    assert _whole_text_reachable(overlay), (overlay.text.size(), overlay.scroll_area.size())
    # Made smaller while shown (the window resized): it still fits.
    parent.resize(size[0] - 200, size[1] - 150)
    qtbot.waitUntil(lambda: overlay.size() == parent.size())
    assert parent.rect().contains(overlay.card.geometry())
    assert _whole_text_reachable(overlay)


def test_the_wheel_scrolls_a_card_too_tall_and_any_key_or_click_still_closes_it(
        qtbot, large_font) -> None:
    parent, overlay = _shown(qtbot, 1366, 600)
    bar = overlay.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0  # too tall for the window: scrolled
    where = overlay.scroll_area.viewport().rect().center()
    wheel = QWheelEvent(where, overlay.scroll_area.viewport().mapToGlobal(where), QPoint(),
                        QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(overlay.scroll_area.viewport(), wheel)
    assert bar.value() > 0 and overlay.isVisible()
    assert parent.focusWidget() is overlay  # the keys stay with the card: a key closes it
    qtbot.keyClick(overlay, Qt.Key.Key_Down)
    assert not overlay.isVisible()
    overlay.toggle()
    qtbot.mouseClick(overlay.scroll_area.viewport(), Qt.MouseButton.LeftButton)
    assert not overlay.isVisible()  # a click on the text closes it as before
