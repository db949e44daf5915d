"""The detail panel's task boxes and the focused task: which task the keys label.

One :class:`~crisisdesk.gui.task_box.TaskBox` per task of the shown item, in the panel's
tasks area. One of them is focused (outlined): the number keys and Enter label its task,
Tab moves the focus on, a task's queue hands the focus to its task (now, or when the next
item's boxes are shown), and the focused box is scrolled into view. The attention overlay
follows the focused task (its classes, and the explanation wanted).

:class:`TaskFocus` is a part of :class:`~crisisdesk.gui.detail_panel.DetailPanel` (mixed
in), kept here so that the panel's module stays a readable size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from crisisdesk.core.review import ItemDetail, TaskView
from crisisdesk.gui.announce import announce
from crisisdesk.gui.overlay import Wanted
from crisisdesk.gui.task_box import TaskBox, scroll_into_view, task_boxes

if TYPE_CHECKING:
    from crisisdesk.gui.label_history import LabelHistory
    from crisisdesk.gui.overlay import AttentionOverlay

#: How long the keys rest on an item before its focused task is said: J held down moves
#: every 30-50 ms, and each item shown on the way was said, the screen reader reading
#: on through items the analyst had passed.
SAY_AFTER_MS = 300


class TaskFocus:
    """The task boxes of the shown item and the one the keys act on (mixed into the
    detail panel, whose ``detail``, ``history``, ``attention``, ``scroll`` and ``text``
    it uses)."""

    detail: ItemDetail | None
    history: LabelHistory
    attention: AttentionOverlay
    scroll: QScrollArea
    text: QWidget

    def _init_task_focus(self) -> None:
        """The task state and the tasks area (the panel lays the area out)."""
        self.focused_task = 0
        self._wanted_task: str | None = None  # focus_task's, until its box is shown
        self.task_boxes: list[TaskBox] = []
        self._show_box = QTimer(self, singleShot=True, interval=0)
        self._show_box.timeout.connect(self._show_focused_box)
        self._say_later = QTimer(self, singleShot=True, interval=SAY_AFTER_MS)
        self._say_later.timeout.connect(self._say_settled)
        self._owed = False  # the shown item's focused task is still to be said
        self.tasks_area = QVBoxLayout()
        self.tasks_area.setSpacing(6)

    def _set_tasks(self, views: tuple) -> None:
        before = self.focused_view()
        for box in self.task_boxes:
            box.setParent(None)
            box.deleteLater()
        self.task_boxes = task_boxes(views)  # an advice they share said once
        for box in self.task_boxes:
            self.tasks_area.addWidget(box)
            box.show()  # now, not at the layout's queued show: _show_focused_box needs it
            box.class_clicked.connect(self._class_clicked)
            box.history_wanted.connect(self.history.show_task)
        if self.task_boxes:
            self.focused_task %= len(self.task_boxes)
        named = [n for n, box in enumerate(self.task_boxes) if box.view.task == self._wanted_task]
        if named:
            self.focused_task, self._wanted_task = named[0], None
        self._focus(self.focused_task, before)

    def focus_task(self, task: str) -> None:
        """Give the keys to ``task``'s box, now or when the next item's boxes are shown:
        an analyst working a task's queue labels that task (number keys labelled the
        first box, another task, until Tab was pressed)."""
        named = [n for n, box in enumerate(self.task_boxes) if box.view.task == task]
        if named:
            self._focus(named[0], self.focused_view())  # unsaid: the queue said its task
        else:
            self._wanted_task = task

    def focused_view(self) -> TaskView | None:
        """The focused task's view (None before an item is shown)."""
        if 0 <= self.focused_task < len(self.task_boxes):
            return self.task_boxes[self.focused_task].view
        return None

    def set_focused_task(self, index: int) -> None:
        """Outline task number ``index`` as the one keys act on (and the overlay shows),
        and say its box's words: the keys stay on the list, the outline was seen only."""
        self._focus(index, self.focused_view())
        self.say_focused_task()

    def say_when_settled(self, shown: bool) -> None:
        """The keys moved to another item; ``shown``: its task boxes are shown now. Its
        focused task is said once no move came for :data:`SAY_AFTER_MS` (J said only the
        list's row, and the number keys labelled a task unsaid), never an item passed."""
        self._owed = shown
        self._say_later.start()  # restarted: the wait begins again at each move

    def _say_settled(self) -> None:
        if self._owed:
            self.say_focused_task()

    def say_focused_task(self) -> None:
        """Have a screen reader say the focused task's box now (Tab; the next item's once
        the keys settle): what was still to be said of the item is said by this."""
        self._owed = False
        self._say_later.stop()
        if 0 <= self.focused_task < len(self.task_boxes):
            box = self.task_boxes[self.focused_task]
            announce(box, box.in_words())

    def _focus(self, index: int, before: TaskView | None) -> None:
        """Focus a task; ``before``: the task view focused until now (None: none was)."""
        self.focused_task = index
        for n, box in enumerate(self.task_boxes):
            box.set_focused(n == index)
        # Below the fold (a fourth task, picked by its queue or Tab), the keys labelled a
        # task unseen, its numbers read off the boxes in view: scroll once laid out.
        self._show_box.start()
        view = self.focused_view()
        if view is not None and (before is None or before.task != view.task
                                 or before.classes != view.classes):
            same_task = before is not None and before.task == view.task
            self.attention.set_classes(view.classes,
                                       self.attention.class_name() if same_task else None)
        self._update_wanted()

    def _show_focused_box(self) -> None:
        """Scroll the tasks so the focused task's box shows (whole, when it fits)."""
        if 0 <= self.focused_task < len(self.task_boxes):
            # A new item's boxes are laid out by posted requests: all first (else it
            # scrolled to where the old boxes were).
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            scroll_into_view(self.scroll, self.task_boxes[self.focused_task], self.text)

    def _update_wanted(self) -> None:
        """Tell the overlay what to explain: the shown item's focused task."""
        view, detail = self.focused_view(), self.detail
        if detail is None or view is None:
            self.attention.want(None)
            return
        self.attention.want(Wanted(detail.row.id, view.task, self.attention.class_name(),
                                   detail.caption, view.model_version,
                                   tuple(sorted(view.probabilities.items()))))

    def _class_clicked(self, task: str, class_name: str) -> None:
        for n, box in enumerate(self.task_boxes):
            if box.view.task == task:
                self.set_focused_task(n)
        self.attention.pick_class(class_name)
