"""A dialog closed while a call it started runs is freed only once that call has ended.

The window frees its dialogs on close (``WA_DeleteOnClose``, see ``window_actions``), and
a dialog's :class:`~crisisdesk.gui.worker.Background` goes with it: a version made active
from the Model versions window or the retrain report, the dialog closed at once, had its
end dropped, and with it the signal the dialog sends then (the window predicts the items
that version has not scored, and refreshes). A call made through :class:`KeepAlive`
holds the dialog, closed, until its handler has run; a failure it ends in is then said in
the main window's status bar, the dialog's own status line being gone with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMainWindow

from crisisdesk.gui.worker import Background

#: How long the main window's status bar says a failure told after the dialog closed.
TOLD_MS = 30_000


class KeepAlive:
    """The calls of one dialog that must be told even once it is closed."""

    def __init__(self, dialog: QDialog) -> None:
        self._dialog = dialog
        self._running = 0
        self._free_when_ended = False

    @property
    def closed(self) -> bool:
        """Whether the dialog was closed while such a call ran: its handlers still run
        (to send the dialog's signals), but there is nothing left to show on it."""
        return self._free_when_ended

    @property
    def running(self) -> bool:
        """Whether such a call runs (its handlers see it ended: a button greyed while it
        runs may be lit there)."""
        return self._running > 0

    def call(self, background: Background, fn: Callable[[], Any],
             on_done: Callable[[Any], None], on_error: Callable[[str], None], *,
             failed: str) -> None:
        """``background.call(fn, on_done, on_error)``, the dialog kept until it ended.

        ``failed`` names what did not happen ("damage: version 3 was not made active"):
        ``on_error`` gets it with the reason, and once the dialog is closed the main
        window's status bar says it too (the analyst would otherwise never see it)."""
        self._running += 1
        background.call(fn, lambda value: self._ended(on_done, value),
                        lambda message: self._ended(self._told(on_error),
                                                    f"{failed}: {message}"))

    def _told(self, on_error: Callable[[str], None]) -> Callable[[str], None]:
        """``on_error``, and the window's status bar once the dialog is closed."""
        def told(message: str) -> None:
            on_error(message)
            window = self._dialog.parentWidget()
            if self.closed and isinstance(window, QMainWindow):
                window.statusBar().showMessage(message, TOLD_MS)
        return told

    def _ended(self, handler: Callable[[Any], None], value: Any) -> None:
        self._running -= 1  # first: the handler sees the call ended (see running)
        try:
            handler(value)
        finally:
            if not self._running and self._free_when_ended:
                self._dialog.deleteLater()

    def closing(self) -> bool:
        """Call from the dialog's ``done``, before ``QDialog.done``: with a call still
        running, a dialog freed on close is freed once it has ended instead. True when
        one runs (the dialog's Background must then not be shut down)."""
        dialog = self._dialog
        if self._running and dialog.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose):
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
            self._free_when_ended = True
        return self._running > 0
