"""The red bar at the top of the main window while labels are not being saved.

A label write that fails (a full or read-only drive, the project's store moved away) was
said in the status bar for 15 s, under the analyst's eyes fixed on the item: labelling
at speed, they went on pressing keys while nothing was saved. The bar says which label
was not saved, why and what to do, counts the labels lost since, and stays until a label
is saved again. It is not a dialog: it takes no focus, so the keys go on labelling.

Once a label is saved again, the labels lost before are not forgotten: the bar turns
into a calm note counting them, with Show them, Save them now and Dismiss (their Alt
keys reach them; clicked, they take no focus either), and closing still asks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QFrame, QHBoxLayout, QLabel, QMainWindow,
                               QPushButton, QVBoxLayout, QWidget)

from crisisdesk.core.project import DB_NAME, ProjectError
from crisisdesk.core.store.db import full_drive
from crisisdesk.core.store.schema import StoreError
from crisisdesk.core.words import plural
from crisisdesk.gui.announce import show_warning
from crisisdesk.gui.unsaved_labels import Unsaved, labels_in, show_list
from crisisdesk.gui.worker import describe_error

if TYPE_CHECKING:  # labelling imports why_not_saved from here
    from crisisdesk.gui.labelling import Labeller

RED, RED_SOFT = "#b91c1c", "#fee2e2"
CALM, CALM_SOFT = "#1e3a8a", "#eff6ff"  # the note once saving works again: no alarm


def why_not_saved(root: Path, exc: BaseException) -> str:
    """Why a label write on the project at ``root`` failed, and what to do, in words an
    analyst can act on. Runs in the write's thread: it asks the drive and tries the store.
    """
    # The store moved away, or refused to open (a read-only folder): each says what to do.
    if isinstance(exc, (ProjectError, StoreError)):
        return str(exc)
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
            return str(full_drive(root / DB_NAME, said=True))
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc):
            return ("another program (an import, a watch, a job) held the project's "
                    "write lock for too long: give the label again once it has finished")
        # Here, not at the top: core.launch imports torch (the demo's predict job), and
        # the window must paint before torch loads (the job libraries preload after).
        from crisisdesk.core.launch import ProjectNotOpened, open_checked

        try:
            open_checked(root)  # a read-only file or drive, a damaged store: named
        except ProjectNotOpened as not_opened:
            return not_opened.reason
    return describe_error(exc)


class SaveWarning(QFrame):
    """The bar: hidden while labels are saved; red from a failed write to a saved one;
    then a calm note while labels lost before are kept (:attr:`Labeller.unsaved`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saveWarning")
        # Never focused: a bar that took the keys would eat the next labels.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._label = QLabel()
        self._label.setTextFormat(Qt.TextFormat.PlainText)  # item and class names, as typed
        self._label.setWordWrap(True)
        self._label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.buttons = [QPushButton(text) for text in ("Show &them", "Save them &now",
                                                       "&Dismiss")]
        self.show_button, self.save_button, self.dismiss_button = self.buttons
        row = QHBoxLayout()
        row.addWidget(self._label, 1)
        for button in self.buttons:
            # Reached by its Alt key; clicked, it leaves the keys with the list.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setToolTip(f"{button.text().replace('&', '')} "
                              f"({button.shortcut().toString(QKeySequence.NativeText)})")
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(row)
        self.lost = 0  # label actions not saved since the last saved one
        self.failing = False  # the red state: labels given now are not saved
        self.shown_list: QDialog | None = None  # Show them's list, while open
        self.hide()

    def text(self) -> str:
        """What the bar says (empty while hidden)."""
        return self._label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def _state(self, failing: bool) -> None:
        """Red while failing, calm otherwise; the buttons in the calm note only."""
        self.failing = failing
        colour, soft = (RED, RED_SOFT) if failing else (CALM, CALM_SOFT)
        self.setStyleSheet(f"QFrame#saveWarning {{ background: {soft}; border: 2px solid "
                           f"{colour}; border-radius: 4px; }} QLabel {{ color: {colour}; "
                           "border: none; }")
        self.setAccessibleName("Labels not saved" if failing
                               else "Labels not saved earlier")
        for button in self.buttons:
            button.setVisible(not failing)

    def not_saved(self, message: str) -> None:
        """One more label not saved: ``message`` says which, why and what to do."""
        self.lost += 1
        count = "" if self.lost == 1 else (
            f"{plural(self.lost, 'label was', 'labels were')} not saved so far. ")
        self._state(failing=True)
        show_warning(self._label, f"{message}\n{count}Labels given until this is put "
                     "right are not saved either: once a label is saved again, this bar "
                     "lists them to save again.")
        self.setAccessibleDescription(self._label.accessibleName())  # "Warning: ...", no sign
        self.show()

    def saved(self, unsaved: list[Unsaved]) -> None:
        """A label was saved, or the list of those not saved shrank: the calm note while
        any are kept, else nothing."""
        self.lost = 0
        count = labels_in(unsaved)
        if not count:
            self.failing = False
            self._label.clear()
            self.hide()
            return
        self._state(failing=False)
        self._label.setText(f"{plural(count, 'label')} given while saving failed "
                            f"{'was' if count == 1 else 'were'} not saved.")
        self._label.setAccessibleName(self._label.text())
        self.setAccessibleDescription(self._label.text())
        self.show()


def install(window: QMainWindow, labeller: Labeller) -> SaveWarning:
    """Put a :class:`SaveWarning` above ``window``'s central widget, fed by ``labeller``
    (its ``not_saved`` shows it red; a label saved makes it the calm note, or hides
    it; its buttons give the labels not saved again, list them or forget them)."""
    central = window.takeCentralWidget()
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    bar = SaveWarning(holder)
    layout.addWidget(bar)
    layout.addWidget(central, 1)
    window.setCentralWidget(holder)
    labeller.not_saved.connect(bar.not_saved)
    labeller.labels_changed.connect(lambda _items: bar.saved(labeller.unsaved))
    labeller.unsaved_changed.connect(lambda: bar.saved(labeller.unsaved))
    bar.save_button.clicked.connect(labeller.save_unsaved)
    bar.dismiss_button.clicked.connect(lambda: labeller.forget_unsaved())

    def show_them() -> None:
        if bar.shown_list is not None:  # shown again: the list as it is now, once
            bar.shown_list.deleteLater()
        bar.shown_list = show_list(window, labeller.unsaved)

    bar.show_button.clicked.connect(show_them)
    return bar
