"""The app on a desktop in dark mode (Windows 10/11, macOS, GNOME, KDE).

The style sheet paints light backgrounds (the queue panel, the task boxes, the help
card) while text takes the platform palette's colour: with a dark desktop's palette the
queue names, the class names and the whole shortcut help were white on white. The app
start (``app.make_application``) now makes the app light whatever the desktop says.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QApplication
from window_helpers import open_window

from crisisdesk.gui import app as gui_app
from crisisdesk.gui import style

Role = QPalette.ColorRole
#: WCAG's contrast for body text (AAA): the designed black or near-black text reaches it
#: on the light backgrounds; the muted grey notes (4.8 on white) alone do not.
READABLE = 7

#: What a dark desktop's platform theme gives (Windows 11's dark colours).
DARK = {Role.Window: "#202020", Role.WindowText: "#ffffff", Role.Base: "#1c1c1c",
        Role.AlternateBase: "#2c2c2c", Role.Text: "#ffffff", Role.Button: "#2d2d2d",
        Role.ButtonText: "#ffffff", Role.PlaceholderText: "#a0a0a0",
        Role.ToolTipBase: "#2d2d2d", Role.ToolTipText: "#ffffff"}


@pytest.fixture
def dark_desktop(qapp: QApplication):
    """The application with a dark platform palette, as a dark desktop gives it; the
    palette the other tests run with is put back afterwards."""
    before = QPalette(qapp.palette())
    dark = QPalette(qapp.palette())
    for role, colour in DARK.items():
        dark.setColor(role, QColor(colour))
    qapp.setPalette(dark)
    yield qapp
    qapp.setPalette(before)
    hints = qapp.styleHints()
    if hasattr(hints, "unsetColorScheme"):  # Qt 6.8+: as the platform says again
        hints.unsetColorScheme()


def luminance(colour: QColor) -> float:
    """Relative luminance (WCAG 2)."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1: the same, 21: black on white)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rendered_contrast(painted: QPixmap) -> float:
    """The contrast of the most contrasting pixel of ``painted`` against its most common
    colour (the background): the text's, on a grab of a widget showing text."""
    image = painted.toImage().convertToFormat(QImage.Format.Format_RGB32)
    counts: dict[int, int] = {}
    for y in range(image.height()):
        for x in range(image.width()):
            rgb = image.pixel(x, y)
            counts[rgb] = counts.get(rgb, 0) + 1
    background = QColor.fromRgb(max(counts, key=counts.__getitem__))
    return max(contrast(QColor.fromRgb(rgb), background) for rgb in counts)


def test_app_start_makes_text_readable_on_a_dark_desktop(dark_desktop):
    app = gui_app.make_application()
    palette = app.palette()
    # The palette's own pairs, and the text on the style sheet's hard-coded backgrounds.
    pairs = {"Text on Base": (Role.Text, palette.color(Role.Base)),
             "WindowText on Window": (Role.WindowText, palette.color(Role.Window)),
             "Text on the list's white": (Role.Text, QColor("white")),
             "Text on the panels' grey": (Role.Text, QColor(style.PANEL_BG)),
             "ButtonText on Button": (Role.ButtonText, palette.color(Role.Button))}
    for name, (role, background) in pairs.items():
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            ratio = contrast(palette.color(group, role), background)
            assert ratio >= READABLE, f"{name} ({group.name}): contrast {ratio:.1f}"


def test_main_window_text_is_painted_readable_on_a_dark_desktop(dark_desktop, qtbot,
                                                                 demo_like_project):
    gui_app.make_application()
    window = open_window(qtbot, demo_like_project)
    window.resize(1200, 800)
    from crisisdesk.gui.wrapping import WrappingLabel

    # A queue's name (Damage > Unlabelled) on the queue panel's grey.
    queues = window.queues
    damage = next(queues.topLevelItem(n) for n in range(queues.topLevelItemCount())
                  if queues.topLevelItem(n).text(0) == "Damage")
    row = queues.visualItemRect(damage.child(0))
    row.setWidth(queues.columnWidth(0))
    assert rendered_contrast(queues.viewport().grab(row)) >= READABLE
    # A class name of the first task box on its white (grabbed from the box: a label
    # grabbed alone is painted on the palette's Window colour, not on the box's white).
    qtbot.waitUntil(lambda: bool(window.detail.task_boxes)
                    and window.detail.task_boxes[0].isVisible())
    box = window.detail.task_boxes[0]
    name = box.findChildren(WrappingLabel)[1]
    assert rendered_contrast(box.grab(name.geometry())) >= READABLE, name.text()
    # The shortcut help card (its table of keys) on white.
    window.help.toggle()
    qtbot.waitUntil(window.help.isVisible)
    assert rendered_contrast(window.help.card.grab(window.help.text.geometry())) >= READABLE
    window.help.toggle()
    # The item list keeps its dark text on white.
    assert rendered_contrast(window.items.viewport().grab()) >= READABLE
