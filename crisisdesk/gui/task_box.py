"""One task in the detail panel: the prediction as a bar per class, and the label.

The number before each class is the key that gives that label while the task is focused
(two digits typed quickly for the tenth class and after); the focused task's box is
outlined in the accent colour. Clicking a class row focuses the task and makes the
attention overlay show the evidence for that class.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.review import TaskView
from crisisdesk.core.schemes import display_name
from crisisdesk.gui import style
from crisisdesk.gui.chips import LABEL_MARK
from crisisdesk.gui.wrapping import WrappingLabel

#: The most classes the number keys reach: two digits at most (see keys.KeyFilter).
KEYED_CLASSES = 99


def _rich(html: str) -> WrappingLabel:
    """A label showing ``html`` as rich text, always (not as Qt guesses from the
    text), wrapped at the box's width."""
    label = WrappingLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setText(html)
    return label


class TaskBox(QFrame):
    """Prediction bars and the current label of one task for one item."""

    class_clicked = Signal(str, str)  # task, class: a class row was clicked
    history_wanted = Signal(str)  # task: its "History" link was clicked (label_history.py)

    def __init__(self, view: TaskView, parent: QWidget | None = None, *,
                 advise: bool = True) -> None:
        """``advise`` False: the advice of why there is no prediction is left out of the
        box (another box says it: see :func:`task_boxes`); the title's tooltip and the
        accessible name keep the whole sentence."""
        super().__init__(parent)
        self.setObjectName("taskBox")
        self.view = view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        # Every text here is rich text wrapped at the panel's width: names are escaped (a
        # project's class may be "children_<5"), and a long one wraps instead of widening
        # the box past the panel (a horizontal scroll bar, the bars cut off, at 1024 px).
        title = _rich(f"<b>{escape(view.task)}</b>")
        if view.model_version:
            title.setText(f"<b>{escape(view.task)}</b> &nbsp;<span style='color:"
                          f"{style.MUTED}'>predicted by {escape(view.model_version)}</span>")
        reason, advice = no_prediction_parts(view)
        if not view.model_version and reason:
            # Why, where the core says: "no prediction yet" read as "wait for Predict"
            # also where none will ever come (an image-only version, a text-only post).
            # The reason only: with its advice the title took three lines at 911 px,
            # and a 472 px high window showed none of the classes the keys give.
            title.setText(f"<b>{escape(view.task)}</b> &nbsp;<span style='color:"
                          f"{style.MUTED}'>{escape(reason)}</span>")
            title.setToolTip(view.no_prediction or "")
        layout.addWidget(title)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        # Names and bars share the width: a word-wrapped name's size hint is narrow
        # (Qt's guess), so the bars alone took the room and the names wrapped needlessly.
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        top = view.predicted
        self.bars: dict[str, QProgressBar] = {}
        self._row_of: dict[QWidget, str] = {}  # each widget of a class row -> the class
        self._keys: list[QLabel] = []  # each class's key, in the order of the classes
        for n, cls in enumerate(view.classes):
            key = QLabel(f"{n + 1}" if n < KEYED_CLASSES else "")
            key.setStyleSheet(f"color:{style.MUTED}; font-family: monospace;")
            self._keys.append(key)
            name = _rich(escape(display_name(cls)))
            if cls == view.label:
                colour = style.SOURCE_COLOURS.get(view.label_source or "", style.HUMAN)
                name.setText(f"<b>{escape(display_name(cls))}</b> "
                             f"<span style='color:{colour}'>✓</span>")
                # Said as "check mark": the item list's legend for the mark, in words.
                name.setAccessibleName(f"{display_name(cls)}, {LABEL_MARK}")
            bar = QProgressBar()
            bar.setObjectName("probBar")
            # Out of 100: a screen reader reads the value as it is ("573" out of 1000).
            bar.setRange(0, 100)
            bar.setTextVisible(False)
            bar.setFixedHeight(10)
            bar.setMinimumWidth(80)
            prob = view.probabilities.get(cls)
            bar.setValue(int(round((prob or 0.0) * 100)))
            bar.setProperty("top", cls == top)
            # Read out, the bar was a nameless "progress bar".
            bar.setAccessibleName(f"{view.task}: {display_name(cls)} {prob:.0%}"
                                  if prob is not None
                                  else f"{view.task}: {display_name(cls)}, no prediction")
            value = QLabel(f"{prob:.0%}" if prob is not None else "–")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(34)
            grid.addWidget(key, n, 0)
            grid.addWidget(name, n, 1)
            grid.addWidget(bar, n, 2)
            grid.addWidget(value, n, 3)
            self.bars[cls] = bar
            # A newcomer clicks a class to label it, and nothing shows (the click picks
            # the overlay's class): the tooltip says which key gives it.
            keyed = (f"Key {n + 1}: label this item {display_name(cls)} (this task "
                     "focused). " if n < KEYED_CLASSES else "")
            for widget in (key, name, bar, value):
                self._row_of[widget] = cls
                widget.setToolTip(f"{keyed}Click: show the evidence for this class "
                                  "(overlay, O)")
        layout.addLayout(grid)
        if advice and advise:
            # What comes next, under the classes: the bars stay under the title.
            layout.addWidget(_rich(f"<span style='color:{style.MUTED}'>{escape(advice)}"
                                   "</span>"))
        line = QHBoxLayout()
        line.addWidget(_rich(self._label_line()), 1)
        self.history_link = QLabel("<a href='history'>History</a>")
        self.history_link.setTextFormat(Qt.TextFormat.RichText)
        self.history_link.setToolTip("Who changed this label and when, undos and redos too (key: H)")
        # Said as "History" in every task's box: which task's, in the name only.
        self.history_link.setAccessibleName(f"History of the {view.task} label")
        self.history_link.linkActivated.connect(lambda _: self.history_wanted.emit(view.task))
        line.addWidget(self.history_link, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(line)
        self.setAccessibleName(self.in_words())
        self.set_focused(False)

    def in_words(self) -> str:
        """What a screen reader says for this box (a frame says nothing of its own):
        the task, the model's prediction and the label with who gave it."""
        view = self.view
        if view.predicted and view.predicted in view.probabilities:
            conf = view.probabilities[view.predicted]
            predicted = f"predicted {display_name(view.predicted)}, {conf:.0%} confident"
        else:
            predicted = view.no_prediction or "no prediction yet"
        if not view.label:
            label = "no label yet"
        else:
            label = f"labelled {display_name(view.label)} ({view.label_source or ''}" \
                    f"{self._who()})"
        return f"{view.task} task: {predicted}; {label}"

    def _label_line(self) -> str:
        view = self.view
        if not view.label:
            return f"<span style='color:{style.MUTED}'>Label: none yet</span>"
        colour = style.SOURCE_COLOURS.get(view.label_source or "", style.MUTED)
        return (f"Label: <b>{escape(display_name(view.label))}</b> "
                f"<span style='color:{colour}'>({escape(view.label_source or '')}"
                f"{escape(self._who())})</span>")

    def _who(self) -> str:
        """", annotator" after a human label's source; "" for any other label."""
        view = self.view
        return f", {view.annotator}" if view.annotator and view.label_source == "human" else ""

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        widget = self.childAt(event.position().toPoint())
        cls = self._row_of.get(widget) if widget is not None else None
        if cls is not None:
            self.class_clicked.emit(self.view.task, cls)
        super().mousePressEvent(event)

    @staticmethod
    def focused_in(window: QWidget) -> TaskBox | None:
        """The task box of ``window`` the number keys label (None: no item shown)."""
        return next((box for box in window.findChildren(TaskBox)
                     if box.property("focused")), None)

    def show_typed(self, first: int | None) -> None:
        """Mark the keys a first digit typed can still become (``first`` 1: "1", "10",
        "11", ...) until its second digit comes; None: every key as usual."""
        for key in self._keys:
            waiting = first is not None and key.text().startswith(str(first))
            colour = style.ACCENT if waiting else style.MUTED
            weight = "bold" if waiting else "normal"
            key.setStyleSheet(f"color:{colour}; font-weight:{weight}; "
                              "font-family: monospace;")

    def set_focused(self, focused: bool) -> None:
        """Outline this box as the task the number keys label, and say so to a screen
        reader (the outline alone told only who sees it)."""
        self.setProperty("focused", focused)
        self.setAccessibleDescription("focused: number keys label this task" if focused
                                      else "")
        self.style().unpolish(self)
        self.style().polish(self)


def task_boxes(views: Sequence[TaskView]) -> list[TaskBox]:
    """A box per task view, in order; an advice several boxes share is said in the first
    of them only: in a new project each task box said "Predict starts the shipped head
    or zero-shot where it can, Retrain trains one", one advice read three times."""
    boxes, said = [], set()
    for view in views:
        advice = no_prediction_parts(view)[1]
        boxes.append(TaskBox(view, advise=advice not in said))
        said.add(advice)
    return boxes


def no_prediction_parts(view: TaskView) -> tuple[str, str]:
    """(reason, advice) of why ``view``'s task has no prediction: the core's sentence
    ("no model version yet: Predict starts ...") cut at its last ": ", the advice's first
    letter capitalised; ("", "") where there is a prediction. The cut is the last colon
    so that a version name holding one stays in the reason."""
    if view.model_version or view.probabilities:
        return "", ""
    reason, _, advice = (view.no_prediction or "no prediction yet").rpartition(": ")
    if not reason:  # no advice given: all of it is the reason
        return advice, ""
    return reason, advice[:1].upper() + advice[1:]


def scroll_into_view(scroll: QScrollArea, box: TaskBox, text: QWidget) -> None:
    """Scroll ``scroll`` to show ``box``, the focused task's, whole; but down no further
    than the top of ``text``, the post (both in ``scroll``'s widget), while the box's
    title still shows: the text is what is labelled (a second task's box shown whole
    took it out of view on every item of a 720 px laptop)."""
    bar = scroll.verticalScrollBar()
    before = bar.value()
    scroll.ensureWidgetVisible(box, 0, 6)
    if bar.value() > before:
        title = box.layout().itemAt(0).geometry().bottom() + 6  # the task's name
        titled = box.y() + title - scroll.viewport().height()
        bar.setValue(max(before, min(bar.value(), max(text.y(), titled))))
