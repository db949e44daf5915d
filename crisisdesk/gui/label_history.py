"""The label history of one task of the item shown: a small window beside the detail panel.

A task box's "History" link opens it, and so does the key H for the focused task (Tab
moves between the tasks, so it never reached the link): every change of that item's label
for that task, oldest first, with who made it and when (UTC), and which were undos or
redos of whose step; the audit a team lead needs for a disputed label, from the label
journal. It is not modal: it stays open while the analyst works and follows the item the
panel shows (and its new labels), fetched again each time through the window's
:class:`Background`, never on the UI thread; with no item shown, it says so. Closed, it
gives the keys back to where they were when it opened.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QCursor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget
from shiboken6 import isValid

from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemDetail
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import LabelEvent
from crisisdesk.core.store.history import journal_time
from crisisdesk.gui import style
from crisisdesk.core.bidi import shown_uid, unmarked
from crisisdesk.gui.worker import Background


def _shown_label(label: str | None) -> str:
    """A class as the task boxes show it ("mild damage"), or that it was cleared."""
    return display_name(label) if label is not None else "(cleared)"


class LabelHistory(QFrame):
    """A tool window listing the label changes of (the panel's item, one task)."""

    def __init__(self, panel: QWidget, project: Project, background: Background) -> None:
        # A tool window: it stays above the main window without blocking it.
        super().__init__(panel, Qt.WindowType.Tool)
        self.setWindowTitle("Label history")
        self._panel, self._project, self._background = panel, project, background
        self.task: str | None = None
        self.item_id: int | None = None
        self.events: list[LabelEvent] = []  # what is shown (tests read it)
        self._opener: QWidget | None = None  # where the keys were when it opened
        self.title = QLabel()
        self.title.setObjectName("sectionTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.rows = QLabel()
        self.rows.setTextFormat(Qt.TextFormat.RichText)
        self.rows.setWordWrap(True)  # a long "undo by ... label again" wraps in its cell
        self.rows.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rows.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # The keys scroll a long history here (the rows take none): named in _name.
        self._scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.rows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        self.resize(560, 260)
        # Follows the panel: another item, or this one's labels changed (a reload).
        panel.detail_shown.connect(self._detail_shown)

    def show_task(self, task: str) -> None:
        """Open (or bring up) the history of ``task`` for the item the panel shows."""
        detail: ItemDetail | None = getattr(self._panel, "detail", None)
        if detail is None:
            return
        if not self.isVisible():
            focus = QApplication.focusWidget()
            self._opener = focus if focus is not None and \
                focus.window() is self._panel.window() else None
            self.move(self._place(QCursor.pos() + QPoint(12, 12)))
        self.show()
        self.raise_()
        self._fetch(detail.row.id, detail.row.uid, task)

    def _place(self, wanted: QPoint) -> QPoint:
        """``wanted`` moved so the whole window is on its screen: opened at the pointer
        on the History link, at a maximized window's right edge, it ran past the screen."""
        screen = QGuiApplication.screenAt(wanted) or self._panel.screen()
        area = screen.availableGeometry()
        size = self.frameGeometry().size().expandedTo(self.size())
        x = max(area.left(), min(wanted.x(), area.right() + 1 - size.width()))
        y = max(area.top(), min(wanted.y(), area.bottom() + 1 - size.height()))
        return QPoint(x, y)

    def _detail_shown(self, detail: ItemDetail) -> None:
        if self.isVisible() and self.task is not None:
            self._fetch(detail.row.id, detail.row.uid, self.task)

    def show_no_item(self) -> None:
        """The panel shows no item (a search matching nothing): say so, not the last
        item's changes as if they were of none; the task stays, for the next item."""
        self.item_id, self.events = None, []
        self._name("No item selected")
        self.rows.setText(f"<span style='color:{style.MUTED}'>Select an item to see its "
                          "label changes.</span>")

    def _name(self, what: str) -> None:
        """Name what is shown in the window and in its title (the title bar, the task
        switcher): the task and the item, whatever the rows hold."""
        self.title.setText(what)
        self.setWindowTitle(f"Label history: {what}")
        # Said without the item id's direction marks (a screen reader read them out).
        said = unmarked(what)
        self.title.setAccessibleName(said)
        for named in (self, self._scroll):
            named.setAccessibleName(f"Label history: {said}")

    def _fetch(self, item_id: int, uid: str, task: str) -> None:
        if (item_id, task) != (self.item_id, self.task):
            self.events = []
            self.rows.setText(f"<span style='color:{style.MUTED}'>Loading…</span>")
        self.item_id, self.task = item_id, task
        self._name(f"{task} · {shown_uid(uid)}")
        project = self._project

        def fetch() -> list[LabelEvent]:
            with project.open_store() as store:
                return store.label_history(item_id, task)

        def arrived(events: list[LabelEvent]) -> None:
            if (item_id, task) == (self.item_id, self.task):
                self._show(events)

        self._background.call(fetch, arrived, self._failed, key=f"history-{id(self)}")

    def _failed(self, message: str) -> None:
        self.rows.setText(f"Could not read the label history: {escape(message)}")

    def _show(self, events: list[LabelEvent]) -> None:
        self.events = events
        if not events:
            self.rows.setText(f"<span style='color:{style.MUTED}'>No label given yet "
                              "for this task.</span>")
            return
        pad = "padding-right:10px"
        cells = "".join(
            f"<tr><td style='color:{style.MUTED}; {pad}'>{escape(journal_time(e.at))}</td>"
            f"<td style='{pad}'><b>{escape(_shown_label(e.label))}</b></td>"
            f"<td>{escape(e.how())}</td></tr>" for e in events)
        self.rows.setText(f"<table cellspacing='2'>{cells}</table>")
        self.rows.setAccessibleName(f"{len(events)} label changes of task {self.task}")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # Closed while it had the keys (Esc, its close button), it left them nowhere: J,
        # K and the number keys did nothing until a click in the main window. Given back
        # once it is hidden (activating the main window before did not hold).
        if self.isActiveWindow():
            QTimer.singleShot(0, self, self._give_keys_back)  # not if gone by then
        super().closeEvent(event)

    def _give_keys_back(self) -> None:
        self._panel.window().activateWindow()
        if self._opener is not None and isValid(self._opener) and self._opener.isVisible():
            self._opener.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:  # as any small window closes
            self.close()
            return
        super().keyPressEvent(event)
