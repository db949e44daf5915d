"""The attention overlay of the detail panel: why the model scored the item as it did.

:class:`OverlayBar` holds the controls under the image: the toggle (key O), the class
shown (the predicted one by default), the heat map's opacity, its legend, the image vs
text share bar, and a status line ("Computing…" with a busy bar, or why there is no map).
:class:`AttentionOverlay` asks ``crisisdesk.core.explain.explain_item`` for the shown
item, the focused task and the chosen class, always through the window's
:class:`~crisisdesk.gui.worker.Background` (never on the GUI thread: it runs CLIP's
image tower forwards and backwards), one explanation at a time: a request made while one
computes waits, and only the newest waiting one runs, so flicking through the list never
piles up model runs; a result for an item the analyst has left is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCursor, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.project import Project
from crisisdesk.core.schemes import display_name
from crisisdesk.gui import job_libraries as libraries
from crisisdesk.gui import style
from crisisdesk.gui.advice import no_model_advice
from crisisdesk.gui.overlay_draw import HEAT_SIDE, Legend, ShareBar, heat_rgba, rgba_image
from crisisdesk.gui.worker import Background

if TYPE_CHECKING:  # the explain package imports torch: only ever in the worker
    from crisisdesk.core.explain.result import Explanation

DEFAULT_OPACITY = 55  # percent: the image stays readable under the colours
ERROR_COLOUR = "#b91c1c"


@dataclass(frozen=True)
class Wanted:
    """What the overlay should show: an item, a task, a class (None: the top one), and
    what makes a cached result stale in the panel (the caption, the model version, the
    prediction shown: a predict after texts were embedded changes it and nothing else)."""

    item: int
    task: str
    class_name: str | None
    caption: str | None = None
    model_version: str | None = None
    prediction: tuple[tuple[str, float], ...] = ()


def _buddy(text: str, widget: QWidget) -> QLabel:
    """A label saying ``text`` next to ``widget``, and read out as its name."""
    label = QLabel(text)
    label.setBuddy(widget)
    return label


class OverlayBar(QWidget):
    """The overlay's controls (the toggle itself sits next to the item's header)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("Overlay")
        self.toggle.setCheckable(True)
        self.toggle.setStyleSheet(  # "on" must be plain to see: the words look different
            f"QToolButton {{ padding: 2px 10px; border: 1px solid {style.BORDER};"
            f" border-radius: 4px; }} QToolButton:checked {{ background: {style.ACCENT_SOFT};"
            f" border-color: {style.ACCENT}; color: {style.ACCENT}; font-weight: bold; }}"
            # The sheet's border replaced the style's focus frame: reached by Tab, the
            # button looked unfocused. A thicker border marks the focus, on and off
            # (the padding gives back the pixel, so the button keeps its size).
            f" QToolButton:focus {{ border: 2px solid {style.ACCENT}; padding: 1px 9px; }}")
        self.toggle.setToolTip("Show why the model said what it said (O): a heat map over "
                               "the image, the words for and against the class")
        self.classes = QComboBox()
        self.classes.setToolTip("The class whose evidence is shown")
        self.classes.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(DEFAULT_OPACITY)
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("Opacity of the heat map")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # a busy indicator: how long it takes is not known
        self.busy.setFixedSize(48, 8)
        self.busy.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = Legend()
        self.share = ShareBar()
        self.share.setMaximumWidth(220)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        # Buddies: a screen reader said a nameless "slider 60" and a bare "predicted
        # class", the labels beside them unsaid.
        controls.addWidget(_buddy("Class", self.classes))
        controls.addWidget(self.classes)
        controls.addSpacing(8)
        controls.addWidget(_buddy("Opacity", self.opacity))
        controls.addWidget(self.opacity)
        controls.addSpacing(8)
        controls.addWidget(self.busy)
        controls.addWidget(self.status, 1)
        keys = QHBoxLayout()
        keys.setContentsMargins(0, 0, 0, 0)
        keys.addWidget(self.legend, 3)
        keys.addSpacing(12)
        keys.addWidget(self.share, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addLayout(keys)
        self.set_status("")

    def set_status(self, text: str, *, busy: bool = False, error: bool = False) -> None:
        """The status line: a note, "Computing…" with the busy bar, or an error."""
        self.busy.setVisible(busy)
        self.busy.setAccessibleName(text if busy else "")  # else a nameless progress bar
        colour = ERROR_COLOUR if error else style.MUTED
        self.status.setText(f"<span style='color:{colour}'>{text}</span>" if text else "")
        self.status.setVisible(bool(text))


class AttentionOverlay(QObject):
    """Fetches explanations for the detail panel and keeps the one shown."""

    shown = Signal(object)  # the Explanation just painted
    failed = Signal(str)  # why the wanted explanation could not be made

    def __init__(self, project: Project, background: Background, bar: OverlayBar,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project, self._background, self.bar = project, background, bar
        self.wanted: Wanted | None = None
        self.explanation: Explanation | None = None  # the one painted, for ``shown_for``
        self.shown_for: Wanted | None = None
        self.heat: np.ndarray | None = None  # its heat map's RGBA pixels
        self._heat_image: QImage | None = None  # the same, wrapped once for painting
        self.error: str | None = None
        self._running: Wanted | None = None
        self._filling_classes = False
        self.device = "auto"
        bar.classes.currentIndexChanged.connect(self._class_picked)
        self.on_change: list[Any] = []  # callbacks: the panel repaints image and text

    @property
    def enabled(self) -> bool:
        return self.bar.toggle.isChecked()

    # ------------------------------------------------------------------ what to show
    def set_classes(self, classes: tuple[str, ...], keep: str | None) -> None:
        """Offer the focused task's classes (the first entry: the predicted class)."""
        self._filling_classes = True
        try:
            combo = self.bar.classes
            combo.clear()
            combo.addItem("predicted class", None)
            for name in classes:
                combo.addItem(display_name(name), name)
            index = combo.findData(keep) if keep else 0
            combo.setCurrentIndex(max(0, index))
        finally:
            self._filling_classes = False

    def class_name(self) -> str | None:
        return self.bar.classes.currentData()

    def pick_class(self, name: str | None) -> None:
        """Show the evidence for ``name`` (None: the predicted class)."""
        index = self.bar.classes.findData(name) if name else 0
        if index >= 0:
            self.bar.classes.setCurrentIndex(index)

    def _class_picked(self, _index: int) -> None:
        if not self._filling_classes and self.wanted is not None:
            self.want(replace(self.wanted, class_name=self.class_name()))

    def want(self, wanted: Wanted | None) -> None:
        """Show ``wanted`` (None: nothing) once it is computed; repaint at once if it is
        what is shown already."""
        self.wanted = wanted
        if not self.enabled or wanted is None:
            self._changed()
            return
        if wanted == self.shown_for:
            # Back to what is shown (a newer request may have said "Computing…").
            self._show_status()
            self._changed()
            return
        self.bar.set_status("Computing the explanation…", busy=True)
        self.bar.share.set_share(None)  # the shown share is another item's or class's
        if self._running is None:
            self._start(wanted)
        self._changed()

    def current(self) -> Explanation | None:
        """The explanation of what is wanted now, if it has arrived (else None)."""
        if self.enabled and self.wanted is not None and self.wanted == self.shown_for:
            return self.explanation
        return None

    # ------------------------------------------------------------------ computing
    def _start(self, wanted: Wanted) -> None:
        self._running = wanted
        project, device = self._project, self.device

        def compute() -> tuple[Explanation, np.ndarray | None]:
            # The version's encoders' libraries (open_clip, transformers) first, while
            # no preload or job imports them: two threads importing them at once failed.
            libraries.import_for_job(libraries.version_modules(project, [wanted.task]))
            # Imported here, in the worker: the explain package loads torch.
            from crisisdesk.core.explain import item as explain
            from crisisdesk.core.fusion.predict import NoModel

            try:
                result = explain.explain_item(project, wanted.item, wanted.task,
                                              wanted.class_name, device=device)
            except NoModel as exc:
                if exc.task is None:
                    raise  # a version that cannot be loaded: the message names it
                # None yet: what to run, in the app's words (the core's are the CLI's).
                raise NoModel(no_model_advice(exc.task), task=exc.task) from None
            heat = heat_rgba(result.image, HEAT_SIDE) if result.image is not None else None
            return result, heat

        # No Background key: this lane runs one call at a time and drops stale results
        # itself (a keyed call superseded by Background would never report back).
        self._background.call(compute, lambda value: self._arrived(wanted, value),
                              lambda message: self._failed(wanted, message))

    def _arrived(self, wanted: Wanted, value: tuple[Explanation, np.ndarray | None]) -> None:
        self._running = None
        if wanted == self.wanted:  # else the analyst moved on: drop it
            self.explanation, self.heat = value
            self._heat_image = rgba_image(self.heat) if self.heat is not None else None
            self.shown_for, self.error = wanted, None
            self._show_status()
            self._changed()
            self.shown.emit(self.explanation)
        self._next()

    def _failed(self, wanted: Wanted, message: str) -> None:
        self._running = None
        if wanted == self.wanted:
            self.explanation, self.heat, self.shown_for = None, None, wanted
            self._heat_image = None
            self.error = message
            self._show_status()
            self._changed()
            self.failed.emit(message)
        self._next()

    def _show_status(self) -> None:
        """The status line and share bar of what is shown: its notes, or why it failed."""
        if self.error is not None:
            self.bar.set_status(f"No explanation: {_plain(self.error)}", error=True)
            self.bar.share.set_share(None)
        elif self.explanation is not None:
            self.bar.set_status(self._notes(self.explanation))
            self.bar.share.set_share(self.explanation.share)

    def _next(self) -> None:
        if self.enabled and self.wanted is not None and self.wanted != self.shown_for:
            self._start(self.wanted)

    def _notes(self, explanation: Explanation) -> str:
        # The status line is rich text: notes name files, whose names may hold < or &.
        notes = [_plain(note) for note in explanation.notes]
        probability = explanation.probabilities.get(explanation.class_name)
        head = (f"evidence for <b>{_plain(display_name(explanation.class_name))}</b>"
                + (f" ({probability:.0%})" if probability is not None else "")
                + f" · model {_plain(explanation.model_version)}")
        # Only a text-only head: a head that reads images has no map when the file
        # could not be read or changed since import, and its notes say so.
        if explanation.image is None and explanation.image_path and \
                explanation.fusion.get("variant") == "text_only":
            notes.append("this model reads the text only: no heat map for the image")
        return " · ".join([head, *notes])

    # ------------------------------------------------------------------ on / off
    def set_enabled(self, on: bool) -> None:
        """Turn the overlay on (computing what is wanted) or off."""
        if self.bar.toggle.isChecked() != on:
            self.bar.toggle.setChecked(on)  # toggled -> panel -> want()
            return
        if not on:
            self.bar.set_status("")
        self.want(self.wanted)

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    def heat_image(self) -> QImage | None:
        """The heat map of the shown explanation as a QImage (None without one)."""
        return self._heat_image

    def show_word_tooltip(self, text: str, index: int) -> None:
        """Hovering a highlighted word: its value and what it means."""
        from crisisdesk.gui.overlay_draw import word_tooltip

        explanation = self.current()
        if explanation is None or not 0 <= index < len(explanation.words):
            return
        label = display_name(explanation.class_name)
        QToolTip.showText(QCursor.pos(), word_tooltip(explanation.words[index], label))


def _plain(message: str) -> str:
    return message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
