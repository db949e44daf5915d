"""Plain-language notes on the words of the retrain report and the versions lists (macro
F1, the holdout, early stopping, F1 per class, the confusion matrix, "Scored when
trained"), and the small helpers that attach them to widgets.

A new analyst meets these words with no explanation. Each note says what the figure
measures and how to read it, true to what the code computes: ``core.fusion.metrics``
(F1, macro F1, the confusion matrix), ``core.retrain`` (the holdout, the
recommendation) and ``core.fusion.data`` (the validation slice that early-stops). A
note is reached by mouse (a tooltip), by keyboard (a "?" link Tab reaches; Enter opens
it) and by a screen reader (the widget's accessible description). Esc closes a note
shown, not the dialog under it; in a window that asks (``esc_closes_tooltips``), a
tooltip the mouse brought up too.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLabel, QToolTip, QWidget
from shiboken6 import isValid

NOTES: dict[str, str] = {
    "macro_f1": (
        "Macro F1: how well the version finds each class, averaged over the classes, so "
        "a rare class counts as much as a common one. 0–100%, higher is better."),
    "points": (
        "The new version's macro F1 minus the active one's, in percentage points: above "
        "0, the new one does better. On a holdout of a few dozen items a few points can "
        "be chance."),
    "recommendation": (
        "Switch is recommended when the new version's macro F1 on the holdout is at least "
        "the active one's (or the active one could not be scored); otherwise keep the "
        "active version, or tick the override to switch anyway."),
    "holdout": (
        "The holdout: labelled items set aside and never trained on by the versions "
        "trained here (the test split, or dev where there is none). It is drawn once and "
        "stored, so an item in it stays there and labels you add go to training; both "
        "versions are scored on the same items, so the comparison is fair."),
    "early_stopping": (
        "Early stopping: a slice of the training labels (the validation labels) is kept "
        "out of the learning; training stops once its fit on them stops improving, and "
        "keeps the best round. They also calibrate its confidence. They are not the "
        "holdout."),
    "per_class_f1": (
        "F1 per class, on the holdout: for each class, how many of its items the version "
        "finds (recall) and how many of the items it puts in the class belong there "
        "(precision), in one score from 0% (none right) to 100% (all found, none "
        "wrong). Blue: the new version, grey: the active one. A class the holdout has "
        "no items of shows 0%."),
    "confusion": (
        "Confusion matrix: the holdout items counted by the class they are labelled "
        "(rows) and the class the version predicted (columns, numbered as the rows). "
        "The diagonal (blue) counts the items it got right; every other cell (red) is "
        "one kind of mistake: row A, column B counts items labelled A that it called B."),
    "scored_when_trained": (
        "Scored when trained: the accuracy (the share of items predicted right) and macro "
        "F1 the version got when it was trained, on the split it was scored on then (dev "
        "or test). Versions trained on different labels were scored on different items: "
        "compare two versions by a retrain's holdout figures, not by this column. "
        "\"Best of N seeds\": N were trained, the one kept is scored."),
}

_LINK = re.compile(r"href=['\"]term:(\w+)['\"]")


def term_link(term: str) -> str:
    """Rich text for a "?" link after a word, opening ``term``'s note: bold at the text's
    size (a superscript one was too small to read or hit), held to the word by a narrow
    no-break space (a line never starts with it)."""
    return f"&#8239;<a href='term:{term}'><b>?</b></a>"


def explain(widget: QWidget, term: str) -> None:
    """Give ``widget`` ``term``'s note as its tooltip and accessible description (a
    screen reader reads the latter)."""
    widget.setToolTip(NOTES[term])
    widget.setAccessibleDescription(NOTES[term])


class _EscClosesNote(QObject):
    """While a note shows, Esc closes the note and goes no further: it went on to the
    dialog too, and the retrain report closed (as Keep) with the note. Watches the
    application's events only while a note shows or a watched window is shown (a filter
    there sees every event)."""

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__(app)
        self._app, self._showing = app, False
        self._windows: list[QWidget] = []  # whose tooltips are notes too (watch)

    def arm(self) -> None:
        """A note was just shown: the next Esc is the note's."""
        self._showing = True
        self._app.installEventFilter(self)  # again: moved to the front, before the tip's

    def watch(self, window: QWidget, on: bool) -> None:
        """Treat the tooltips of ``window``'s widgets as notes (``on``), or no more."""
        self._windows = [w for w in self._windows if isValid(w) and w is not window]
        if on:
            self._windows.append(window)
            self._app.installEventFilter(self)
        elif not self._showing and not self._windows:
            self._app.removeEventFilter(self)

    def _tip_shown(self) -> None:
        if QToolTip.isVisible():
            self.arm()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip and self._windows \
                and isinstance(watched, QWidget) \
                and any(watched.window() is w for w in self._windows):
            # The mouse rested on a watched window's widget: once its tooltip shows (and
            # has put its own filter, which hides it on any key, before this one), Esc
            # is the tooltip's, as a note's.
            QTimer.singleShot(0, self._tip_shown)
            return False
        if not (self._showing and QToolTip.isVisible()):
            self._showing = False
            # A window deleted while shown (its parent deleted with it) never said "no
            # more" (no hideEvent of Python's runs in a C++ destructor): the filter
            # stayed, a Python call on every event of the application.
            self._windows = [w for w in self._windows if isValid(w)]
            if not self._windows:
                self._app.removeEventFilter(self)
            return False
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress \
                and event.key() == Qt.Key.Key_Escape:
            # The tip fades out for a moment after hideText: the flag, not its
            # visibility, lets a second Esc through to the dialog.
            self._showing = False
            QToolTip.hideText()
            return True
        return False


_esc_closes_note: _EscClosesNote | None = None


def _notes_esc() -> _EscClosesNote:
    """The application's one ``_EscClosesNote``."""
    global _esc_closes_note
    app = QCoreApplication.instance()
    if _esc_closes_note is None or _esc_closes_note.parent() is not app:
        _esc_closes_note = _EscClosesNote(app)
    return _esc_closes_note


def esc_closes_tooltips(window: QWidget, on: bool) -> None:
    """While ``on`` (the window shows), Esc over a tooltip of ``window`` closes the
    tooltip, as over a note: resting the mouse on a chart showed its note as a tooltip,
    and the Esc meant for it closed the retrain report, which cannot be opened again."""
    _notes_esc().watch(window, on)


def show_note(widget: QWidget, href: str) -> None:
    """Show the note of a ``term:`` link under ``widget``: a tooltip, which stays until
    the pointer leaves, a key is pressed or Esc closes it (Esc then goes no further)."""
    term = href.removeprefix("term:")
    if href.startswith("term:") and term in NOTES:
        QToolTip.showText(widget.mapToGlobal(QPoint(0, widget.height())), NOTES[term],
                          widget)
        _notes_esc().arm()


class NotesLabel(QLabel):
    """A rich-text label whose ``term:`` links open their notes (click, hover, or Tab to
    the link and Enter); its accessible description holds them all."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        terms = dict.fromkeys(t for t in _LINK.findall(text) if t in NOTES)
        if not terms:
            return  # no tab stop that holds nothing
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.linkActivated.connect(lambda href: show_note(self, href))
        self.linkHovered.connect(lambda href: show_note(self, href) if href
                                 else QToolTip.hideText())
        self.setAccessibleDescription("\n".join(NOTES[t] for t in terms))

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt's name
        super().focusInEvent(event)
        # Tabbed to, the label took the focus with no link picked: Enter there went on to
        # the report's default button (Switch) instead of opening a note.
        reason = event.reason()
        if reason in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason):
            self.focusNextPrevChild(reason == Qt.FocusReason.TabFocusReason)


def note_link(term: str, name: str) -> QLabel:
    """A "?" link that opens ``term``'s note, for a chart: a tab stop whose accessible
    name asks "What is ``name``?" and whose description is the note."""
    link = NotesLabel(term_link(term))
    link.setAccessibleName(f"What is {name}?")
    link.setToolTip(NOTES[term])
    return link
