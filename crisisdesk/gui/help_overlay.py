"""The shortcut help: a card over the window listing every key (F1 or ? shows it), and
the marks of the item list's rows.

It reads :data:`crisisdesk.gui.keys.SHORTCUTS`, the same table the key filter is
documented by, so the help cannot drift from what the keys do, and
:data:`crisisdesk.gui.chips.ROW_MARKS`, whose chips are written by the rows' own code.
Any key or click hides it, and so does the focus moving to another widget of the window.
The card keeps inside the window: its text wraps to the window's width, and what is still
too tall scrolls (the wheel, or the bar).
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFocusEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from crisisdesk.gui import style
from crisisdesk.gui.chips import ROW_MARKS
from crisisdesk.gui.keys import SHORTCUTS

#: Room left between the window's edges and the card (the dimmed window shows around it).
EDGE = 16
#: The card's padding around its text (left/right, top/bottom).
PAD_X, PAD_Y = 24, 16


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
        text.setWordWrap(True)
        # Since the list's marks joined the keys the card is ~616 px high: with large text
        # on a 1366 x 768 screen it outgrew the window and its heading and last lines were
        # cut off. It wraps to the window's width; what is still too tall scrolls.
        scroll = QScrollArea()
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(text)
        scroll.viewport().setAutoFillBackground(False)
        text.setAutoFillBackground(False)  # setWidget turned it on: the card's white shows
        # The keys stay with the layer (any key closes it); the wheel still scrolls.
        for widget in (scroll, scroll.verticalScrollBar()):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(PAD_X, PAD_Y, PAD_X, PAD_Y)
        layout.addWidget(scroll)
        self.card = card
        self.text = text
        self.scroll_area = scroll
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
        room = self.rect().adjusted(EDGE, EDGE, -EDGE, -EDGE)
        # The text's own width when nothing wraps, narrowed to the room there is.
        self.text.setWordWrap(False)
        natural = self.text.sizeHint().width()
        self.text.setWordWrap(True)
        width = max(1, min(natural, room.width() - 2 * PAD_X))
        height = self.text.heightForWidth(width)
        tall = height + 2 * PAD_Y > room.height()
        bar = self.scroll_area.verticalScrollBar().sizeHint().width() if tall else 0
        if tall:  # the scroll bar's width is taken from the room for the text
            width = max(1, min(natural, room.width() - 2 * PAD_X - bar))
            height = self.text.heightForWidth(width)
        # Said here, not left to the scroll area: it decides only once the events of the
        # text's new size come round, and showed a bar the text did not need till then.
        policy = Qt.ScrollBarPolicy
        self.scroll_area.setVerticalScrollBarPolicy(
            policy.ScrollBarAlwaysOn if tall else policy.ScrollBarAlwaysOff)
        self.text.resize(width, height)
        card = self.card.rect()
        card.setSize(QSize(width + bar + 2 * PAD_X,
                           min(height + 2 * PAD_Y, max(1, room.height()))))
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
