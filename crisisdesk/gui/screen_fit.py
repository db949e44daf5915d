"""Top-level windows sized within the screen they open on.

The windows and dialogs pick a comfortable default size (the main window 1400 x 860, the
retrain report 880 x 720); on a 1366 x 768 laptop, or a 1920 x 1080 one at 150 % (1280 x
720 for Qt), that default ran past the screen's edge with the buttons and status bar
below it, out of reach. :func:`fit_to_screen` keeps the default where it fits and
shrinks the window to the screen's free area where it does not.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: Room kept for the window's frame and title bar, not known before it is shown.
FRAME = QSize(16, 40)


def available_area(window: QWidget) -> QRect:
    """The free part (less task bars and docks) of the screen ``window`` opens on."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 728)


def fit_to_screen(window: QWidget, available: QRect | None = None) -> bool:
    """Shrink ``window`` (top-level, before it is shown) to fit ``available`` (default:
    its screen's free area) with its frame, no smaller than its layout's minimum; True
    when it had to shrink."""
    area = available if available is not None else available_area(window)
    room = QSize(area.width() - FRAME.width(), area.height() - FRAME.height())
    wanted = window.size()
    fitted = wanted.boundedTo(room).expandedTo(window.minimumSizeHint())
    if fitted == wanted:
        return False
    window.resize(fitted)
    return True
