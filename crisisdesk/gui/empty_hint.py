"""A line of words over an empty list or table: what goes there and how to add it.

An empty list widget or tree shows a blank box (a table: its headers alone), which looks
broken or still loading. :class:`EmptyHint` is a label on the view's viewport, shown
while the view's model has no rows and hidden as soon as it has one; a real widget, so
that a screen reader can read it and a test can look at it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel

from crisisdesk.gui import style


class EmptyHint(QLabel):
    """``text`` over ``view``'s viewport while ``view`` has no rows."""

    def __init__(self, view: QAbstractItemView, text: str) -> None:
        super().__init__(text, view.viewport())
        self.view = view
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(f"color: {style.MUTED}; padding: 4px;")
        # Clicks go to the view beneath (its selection, its context menu).
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset,
                       model.layoutChanged):
            signal.connect(self._follow)
        self._follow()

    def _follow(self, *_args: object) -> None:
        """Shown while the view has no rows, over the whole of its viewport."""
        self.setGeometry(self.view.viewport().rect())
        self.setVisible(self.view.model().rowCount() == 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:
            self.setGeometry(self.view.viewport().rect())
        return False
