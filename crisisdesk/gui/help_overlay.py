"""The shortcut help: a card over the window listing every key (F1 or ? shows it), and
the marks of the item list's rows.

It reads :data:`crisisdesk.gui.keys.SHORTCUTS`, the same table the key filter is
documented by, so the help cannot drift from what the keys do, and
:data:`crisisdesk.gui.chips.ROW_MARKS`, whose chips are written by the rows' own code.
Any key or click hides it, and so does the focus moving to another widget of the window.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFocusEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QVBoxLayout, QWidget
from shiboken6 import isValid

from crisisdesk.gui import style
from crisisdesk.gui.chips import ROW_MARKS
from crisisdesk.gui.keys import SHORTCUTS


def _table(rows: tuple[tuple[str, str], ...]) -> str:
    """``rows`` (what is pressed or seen, what it means) as the card's table."""
    return "<table>" + "".join(
        f"<tr><td style='padding:3px 18px 3px 0'><b>{escape(keys)}</b></td>"
        f"<td style='padding:3px 0'>{escape(what)}</td></tr>" for keys, what in rows
    ) + "</table>"


class HelpOverlay(QWidget):
    """A dimmed layer over ``parent`` with the shortcut card in the middle."""

    #: Hidden by a key or click with no widget to give the keys back to (the window
    #: then gives them to its list).
    closed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        card = QFrame(self)
        card.setObjectName("helpCard")
        card.setStyleSheet("QFrame#helpCard { background: white; border-radius: 10px; }")
        # The list's marks after the keys: the rows shorten the tasks ("dmg") and tell
        # a label from a prediction by colour alone.
        text = QLabel(f"<h3>Keyboard shortcuts</h3>{_table(SHORTCUTS)}"
                      f"<h3>In the item list</h3>{_table(ROW_MARKS)}"
                      f"<p style='color:{style.MUTED}'>The focused task is outlined in blue. "
                      "Each label is saved at once. Press any key to close.</p>")
        text.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(text)
        self.card = card
        self.text = text
        # The layer takes the focus when shown: a screen reader announces this, not the
        # card's markup (it read an unnamed "client" and nothing of the list).
        self.setAccessibleName("Keyboard shortcuts")
        self.setAccessibleDescription(
            "\n".join(f"{keys}: {what}" for keys, what in SHORTCUTS)
            + "\nIn the item list:\n"
            + "\n".join(f"{mark}: {what}" for mark, what in ROW_MARKS)
            + "\nPress any key to close.")
        parent.installEventFilter(self)
        self._focus_moved = False  # hidden because the keys went elsewhere: leave them
        self._opener: QWidget | None = None  # where the keys were when the help opened
        self.hide()

    def toggle(self) -> None:
        """Show the help, or hide it when shown."""
        if self.isVisible():
            self.hide()
            return
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        focus = QApplication.focusWidget()
        self._opener = focus if focus is not None and focus is not self \
            and self.parentWidget().isAncestorOf(focus) else None
        self.show()
        self.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False

    def resizeEvent(self, event) -> None:  # noqa: N802
        self.card.adjustSize()
        card = self.card.rect()
        card.moveCenter(self.rect().center())
        self.card.setGeometry(card)

    def hideEvent(self, event) -> None:  # noqa: N802
        if self._focus_moved:
            return
        opener, self._opener = self._opener, None
        if opener is not None and isValid(opener) and opener.isVisible() \
                and opener.isEnabled():
            # Opened from the search box (F1 there), the keys went to the list: the next
            # letter typed labelled an item instead of going on with the search.
            opener.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.closed.emit()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        # A menu bar outside the window (macOS, a desktop's global menu) runs Search or
        # Go to the jobs without a key or a click reaching the card: the keys went to a
        # box hidden under it. Another window or a menu taking the keys for a while is
        # no reason to close it (the focus comes back here).
        super().focusOutEvent(event)
        if not self.isVisible() or event.reason() in (
                Qt.FocusReason.ActiveWindowFocusReason, Qt.FocusReason.PopupFocusReason):
            return
        self._focus_moved = True  # ``closed`` would take the keys back to the list
        try:
            self.hide()
        finally:
            self._focus_moved = False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        QPainter(self).fillRect(self.rect(), QColor(0, 0, 0, 110))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        self.hide()
        event.accept()

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 - Qt's names
        # Tab and Shift+Tab never reach keyPressEvent (Qt moves the focus first): they
        # moved it to the panel behind the card, which stayed up while the next digit
        # labelled the item it hid. They are keys like any other: they close the help.
        self.hide()
        return True

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.hide()
        event.accept()
