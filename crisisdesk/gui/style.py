"""Shared look of the main window: colours, sizes and the one style sheet.

Kept in one place so the item list, the queue panel and the detail panel agree on what
"focused", "human label" and "prediction" look like.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPalette, QPixmap

ACCENT = "#2563eb"  # focus, selection, the predicted class
ACCENT_SOFT = "#dbeafe"
HUMAN = "#15803d"  # a label a person gave
IMPORT = "#7c3aed"  # a label that came with the data
MODEL = "#b45309"  # a label or a prediction from a model
MUTED = "#6b7280"
BORDER = "#d1d5db"
PANEL_BG = "#f9fafb"

THUMB_SIZE = 64  # pixels of a list thumbnail (square box, aspect kept)
ROW_HEIGHT = THUMB_SIZE + 12

SOURCE_COLOURS = {"human": HUMAN, "import": IMPORT, "model": MODEL}

STYLE_SHEET = f"""
QTableView#itemList {{ background: white; border: none; }}
QTreeWidget#queuePanel {{ background: {PANEL_BG}; border: none; }}
QTreeWidget#queuePanel::item {{ padding: 3px 2px; }}
QTreeWidget#queuePanel::item:selected {{ background: {ACCENT_SOFT}; color: black; }}
QFrame#taskBox {{ border: 1px solid {BORDER}; border-radius: 6px; background: white; }}
QFrame#taskBox[focused="true"] {{ border: 2px solid {ACCENT}; background: #f8fbff; }}
QLabel#sectionTitle {{ color: {MUTED}; font-weight: bold; }}
QLabel#placeholder {{ color: {MUTED}; background: {PANEL_BG};
                     border: 1px dashed {BORDER}; border-radius: 6px; }}
QProgressBar#probBar {{ border: none; background: #eef2f7; border-radius: 3px;
                        max-height: 10px; }}
QProgressBar#probBar::chunk {{ background: #94a3b8; border-radius: 3px; }}
QProgressBar#probBar[top="true"]::chunk {{ background: {ACCENT}; }}
"""

#: Qt's own light palette (Fusion on a light desktop): the one the style sheet above and
#: the painted rows were designed against. Role: (active and inactive, disabled).
LIGHT_PALETTE = {
    "Window": ("#efefef", "#efefef"), "WindowText": ("#000000", "#bebebe"),
    "Base": ("#ffffff", "#efefef"), "AlternateBase": ("#f7f7f7", "#f7f7f7"),
    "Text": ("#000000", "#bebebe"), "PlaceholderText": ("#80000000", "#80000000"),
    "Button": ("#efefef", "#efefef"), "ButtonText": ("#000000", "#bebebe"),
    "BrightText": ("#ffffff", "#ffffff"), "ToolTipBase": ("#ffffdc", "#ffffdc"),
    "ToolTipText": ("#000000", "#000000"), "Highlight": ("#308cc6", "#919191"),
    "HighlightedText": ("#ffffff", "#ffffff"), "Accent": ("#308cc6", "#919191"),
    "Link": ("#0000ff", "#0000ff"), "LinkVisited": ("#ff00ff", "#ff00ff"),
    "Light": ("#ffffff", "#ffffff"), "Midlight": ("#cacaca", "#cacaca"),
    "Mid": ("#b8b8b8", "#b8b8b8"), "Dark": ("#9f9f9f", "#bebebe"),
    "Shadow": ("#767676", "#b1b1b1"),
}


def light_palette() -> QPalette:
    """:data:`LIGHT_PALETTE` as a QPalette, every role of every group set (a role left
    unset would be filled in from the desktop's palette, dark in dark mode)."""
    palette = QPalette()
    groups = (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive)
    for name, (normal, disabled) in LIGHT_PALETTE.items():
        role = getattr(QPalette.ColorRole, name)
        for group in groups:
            palette.setColor(group, role, QColor(normal))
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return palette


def apply_light(app: QGuiApplication) -> None:
    """Make the app look as designed, light, on a desktop in dark mode too.

    The style sheet and the painted widgets (item list, task boxes, queue panel, help
    card) have light backgrounds, while their text takes the palette's colour: a dark
    desktop's palette (Windows 10/11, macOS, GNOME, KDE) wrote white on white. So the
    light colour scheme is asked for (Qt 6.8+: native widgets and title bars follow) and
    the light palette is set for what the scheme request does not reach (older Qt,
    desktops that ignore it).
    """
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(Qt.ColorScheme.Light)
    app.setPalette(light_palette())


def bold(font: QFont) -> QFont:
    """A bold copy of ``font``."""
    copy = QFont(font)
    copy.setBold(True)
    return copy


def app_icon() -> QIcon:
    """The application icon: drawn, so it needs no file (a red desk with a white pulse)."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor("#dc2626"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(0, 0, size, size, size * 0.2, size * 0.2)
        pen = painter.pen()
        pen.setStyle(Qt.PenStyle.SolidLine)
        pen.setColor(QColor("white"))
        pen.setWidthF(max(1.5, size / 12))
        painter.setPen(pen)
        s = size
        points = [(0.15, 0.55), (0.35, 0.55), (0.45, 0.3), (0.57, 0.75), (0.67, 0.55),
                  (0.85, 0.55)]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            painter.drawLine(int(x0 * s), int(y0 * s), int(x1 * s), int(y1 * s))
        painter.end()
        icon.addPixmap(pixmap)
    return icon
