"""The label history of one task of the item shown: a small window beside the detail panel.

A task box's "History" link opens it: every change of that item's label for that task,
oldest first, with who made it and when (UTC), and which were undos or redos of whose
step; the audit a team lead needs for a disputed label, from the label journal. It is not
modal: it stays open while the analyst works and follows the item the panel shows (and
its new labels), fetched again each time through the window's :class:`Background`, never
on the UI thread.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor, QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from crisisdesk.core.project import Project
from crisisdesk.core.review import ItemDetail
from crisisdesk.core.schemes import display_name
from crisisdesk.core.store import LabelEvent
from crisisdesk.core.store.history import journal_time
from crisisdesk.gui import style
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
        self.title = QLabel()
        self.title.setObjectName("sectionTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.rows = QLabel()
        self.rows.setTextFormat(Qt.TextFormat.RichText)
        self.rows.setWordWrap(True)  # a long "undo by ... label again" wraps in its cell
        self.rows.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rows.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
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
        item_id = getattr(self._panel, "item_id", None)
        if item_id is None:
            return
        if not self.isVisible():
            self.move(QCursor.pos() + QPoint(12, 12))
        self.show()
        self.raise_()
        self._fetch(item_id, task)

    def _detail_shown(self, detail: ItemDetail) -> None:
        if self.isVisible() and self.task is not None:
            self._fetch(detail.row.id, self.task)

    def _fetch(self, item_id: int, task: str) -> None:
        if (item_id, task) != (self.item_id, self.task):
            self.events = []
            self.rows.setText(f"<span style='color:{style.MUTED}'>Loading…</span>")
        self.item_id, self.task = item_id, task
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
        uid = events[0].item_uid if events else ""
        self.title.setText(f"{self.task} · {uid}" if uid else str(self.task))
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

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:  # as any small window closes
            self.close()
            return
        super().keyPressEvent(event)
