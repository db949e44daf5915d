"""The queue panel: the review queues on the left, with their counts kept current.

Counts come from ``review.queue_counts`` in the window's :class:`Background`; the window
calls :meth:`QueuePanel.refresh` after every label change and at the end of every job.
Queues are grouped: general ones first, then one group per task, then events.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from crisisdesk.core import review
from crisisdesk.core.project import Project
from crisisdesk.core.review import Queue, QueueCount
from crisisdesk.core.schemes import builtin_schemes, display_name
from crisisdesk.core.words import plural
from crisisdesk.gui import style
from crisisdesk.gui.worker import Background
from crisisdesk.gui.wrapping import WrappedColumn

QUEUE_ROLE = Qt.ItemDataRole.UserRole + 1
#: The queue column's width in a window of the default width (1400 pixels); a wider
#: window gives it up to half of its extra width to show each queue name on one line.
QUEUE_WIDTH, DEFAULT_WIDTH = 280, 1400


def _group_of(count: QueueCount) -> str:
    if count.queue.kind == "event":
        return "Events"
    return count.queue.task or "Queues"


def _in_words(count: QueueCount) -> str:
    """What a screen reader says for ``count``'s row, in the list title's words
    ("Unlabelled (damage): 4 items"): the row shows "Unlabelled" under its task's
    heading and the count in a cell of its own, and a screen reader said "Unlabelled"
    alone, once per task. A title without its task ("Predicted: severe damage") gets
    it as the others have it."""
    title, task = count.title, count.queue.task
    if task and not title.endswith(f" ({task})"):
        title = f"{title} ({task})"
    return f"{title}: {plural(count.count, 'item')}"


class QueuePanel(QTreeWidget):
    """Queues and counts; emits ``queue_selected`` when the analyst picks one."""

    queue_selected = Signal(object)  # Queue
    counts_arrived = Signal()

    def __init__(self, project: Project, background: Background,
                 tasks: tuple[str, ...] | None, parent: QWidget | None = None) -> None:
        """``tasks``: the tasks whose queues to list; None: every task of the project."""
        super().__init__(parent)
        self.setObjectName("queuePanel")
        self.setAccessibleName("Queues")
        self._project, self._background, self._tasks = project, background, tasks
        self._items: dict[Queue, QTreeWidgetItem] = {}
        self._signature: tuple[Queue, ...] = ()
        # a count is running / another was asked for meanwhile (see refresh)
        self._counting = self._again = False
        self.setColumnCount(2)
        # Hidden, but a screen reader names a cell by its column: "2: 6" otherwise.
        self.setHeaderLabels(["Queue", "Items"])
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumWidth(220)
        # Long names wrap, as tall as they need: at a large font (or a project's long
        # class names) "Predicted: severe da…" was cut, the whole name in a tooltip only.
        self.setWordWrap(True)
        self.setItemDelegateForColumn(0, WrappedColumn(self, 0))
        self.header().sectionResized.connect(self._names_resized)
        self.currentItemChanged.connect(self._current_changed)
        placeholder = QTreeWidgetItem(["Counting…", ""])
        placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
        placeholder.setData(1, Qt.ItemDataRole.AccessibleTextRole, "not counted yet")
        self.addTopLevelItem(placeholder)

    def refresh(self) -> None:
        """Count the queues again in the background; the panel updates when they arrive.

        One count runs at a time: a refresh asked for while one runs is done once, after
        it. Counting 300,000 items takes seconds and every label asks for a count, so
        otherwise they piled up in the window's pool, ahead of the pages and the detail
        panel of the next item."""
        if self._counting:
            self._again = True
            return
        self._counting, self._again = True, False
        project, tasks = self._project, self._tasks

        def count() -> list[QueueCount]:
            with project.open_store() as store:
                return review.queue_counts(store, tasks)

        self._background.call(count, self._arrived, self._count_failed,
                              key=f"queue-counts-{id(self)}")

    def _arrived(self, counts: list[QueueCount]) -> None:
        self._counting = False
        again = self._again
        # Counts read before the latest change are shown, but not said to be current.
        self._show(counts, up_to_date=not again)
        if again:
            self.refresh()

    def _count_failed(self, message: str) -> None:
        self._counting = False
        self._failed(message)
        if self._again:
            self.refresh()

    def tasks(self) -> tuple[str, ...]:
        """The tasks whose queues are listed (before the first counts: the tasks asked
        for, or the built-in ones)."""
        listed = tuple(dict.fromkeys(q.task for q in self._items if q.task))
        return listed or self._tasks or tuple(builtin_schemes())

    def current_queue(self) -> Queue | None:
        """The queue selected now."""
        item = self.currentItem()
        return item.data(0, QUEUE_ROLE) if item is not None else None

    def select(self, queue: Queue) -> bool:
        """Select ``queue`` if it is listed; True when it is."""
        item = self._items.get(queue)
        if item is not None:
            self.setCurrentItem(item)
        return item is not None

    def count_of(self, queue: Queue) -> int | None:
        """The count shown for ``queue`` (None when not listed)."""
        item = self._items.get(queue)
        return int(item.text(1).replace(",", "")) if item is not None else None

    def _failed(self, message: str) -> None:
        self.setToolTip(f"Could not count the queues: {message}")

    def _show(self, counts: list[QueueCount], *, up_to_date: bool = True) -> None:
        """Show ``counts``; ``up_to_date``: they include every change so far (then
        ``counts_arrived`` is emitted)."""
        signature = tuple(c.queue for c in counts)
        if signature == self._signature:
            for count in counts:  # same queues: only the numbers change
                item = self._items[count.queue]
                item.setText(1, f"{count.count:,}")
                item.setData(0, Qt.ItemDataRole.AccessibleTextRole, _in_words(count))
            if up_to_date:
                self.counts_arrived.emit()
            return
        current = self.current_queue()
        self.blockSignals(True)
        self.clear()
        self._items.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for count in counts:
            group = _group_of(count)
            parent = groups.get(group)
            if parent is None:
                # "Water supply" for a project task named water_supply.
                title = display_name(group).capitalize() if group != "Queues" else group
                parent = QTreeWidgetItem([title])
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
                parent.setFont(0, style.bold(self.font()))
                parent.setForeground(0, QBrush(QColor(style.MUTED)))
                self.addTopLevelItem(parent)
                parent.setExpanded(True)
                parent.setFirstColumnSpanned(True)
                groups[group] = parent
            title = count.title
            if count.queue.task and title.endswith(f" ({count.queue.task})"):
                title = title[: -len(count.queue.task) - 3]  # the group already says it
            item = QTreeWidgetItem(parent, [title, f"{count.count:,}"])
            item.setData(0, QUEUE_ROLE, count.queue)
            item.setToolTip(0, count.title)
            item.setData(0, Qt.ItemDataRole.AccessibleTextRole, _in_words(count))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setForeground(1, QBrush(QColor(style.MUTED)))
            self._items[count.queue] = item
        for parent in groups.values():
            # A heading spans its row, but its count cell is read all the same: a screen
            # reader said "blank" after each heading. It says what the group holds.
            parent.setData(1, Qt.ItemDataRole.AccessibleTextRole,
                           plural(parent.childCount(), "queue"))
        self.expandAll()
        self._signature = signature
        # The same queue stays selected without a signal: the list keeps its place.
        kept = current is not None and self.select(current)
        self.blockSignals(False)
        if not kept and not self.select(Queue("all")) and counts:
            self.select(counts[0].queue)
        if up_to_date:
            self.counts_arrived.emit()

    def one_line_width(self) -> int:
        """The panel's width that shows every queue name on one line, its count beside."""
        metrics = self.fontMetrics()
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
        names = max((metrics.horizontalAdvance(item.text(0)) for item in self._items.values()),
                    default=0)
        return (self.indentation() + names + 2 * margin + self.header().sectionSize(1)
                + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth())

    def _names_resized(self, column: int, _old: int, _new: int) -> None:
        if column == 0:  # the names wrap anew: the rows' heights change
            self.scheduleDelayedItemsLayout()

    def _current_changed(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        queue = item.data(0, QUEUE_ROLE) if item is not None else None
        if queue is not None:
            self.queue_selected.emit(queue)


class QueueSplitter(QSplitter):
    """The window's columns (queues, items, detail). The queue column widens to show each
    name on one line, with up to half of the room a window wider than the default has,
    until the analyst drags its edge: at 150 % text on a 1920-pixel screen it stayed 280
    pixels, 16 of 26 names on two or three lines beside a half-empty item list."""

    def __init__(self, queues: QueuePanel, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.queues = queues
        self.sized_by_hand = False  # the analyst dragged an edge: the widths are theirs
        self.splitterMoved.connect(self._dragged)  # a drag only, never setSizes
        queues.counts_arrived.connect(self.fit_queues)  # the names are known then

    def _dragged(self, _pos: int, _index: int) -> None:
        self.sized_by_hand = True

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_queues()

    def fit_queues(self) -> None:
        """Give the queue column the width its names want within its share (see the
        class), taken from the other columns in proportion to their widths."""
        sizes = self.sizes()
        if self.sized_by_hand or len(sizes) < 2 or not self.queues._items:
            return
        room = QUEUE_WIDTH + max(0, self.width() - DEFAULT_WIDTH) // 2
        wanted = max(QUEUE_WIDTH, min(self.queues.one_line_width(), room))
        rest = sum(sizes[1:])
        if wanted == sizes[0] or rest <= 0:
            return
        given = wanted - sizes[0]
        others = [size - round(given * size / rest) for size in sizes[1:]]
        self.setSizes([wanted, *others])
