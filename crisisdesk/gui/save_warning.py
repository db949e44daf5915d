"""The red bar at the top of the main window while labels are not being saved.

A label write that fails (a full or read-only drive, the project's store moved away) was
said in the status bar for 15 s, under the analyst's eyes fixed on the item: labelling
at speed, they went on pressing keys while nothing was saved. The bar says which label
was not saved, why and what to do, counts the labels lost since, and stays until a label
is saved again. It is not a dialog: it takes no focus, so the keys go on labelling.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QMainWindow, QVBoxLayout, QWidget

from crisisdesk.core.project import DB_NAME, ProjectError
from crisisdesk.core.store.db import full_drive
from crisisdesk.core.store.schema import StoreError
from crisisdesk.core.words import plural
from crisisdesk.gui.announce import show_warning
from crisisdesk.gui.worker import describe_error

if TYPE_CHECKING:  # labelling imports why_not_saved from here
    from crisisdesk.gui.labelling import Labeller

RED, RED_SOFT = "#b91c1c", "#fee2e2"


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
    """The bar: hidden while labels are saved; shown from a failed write to a saved one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saveWarning")
        self.setStyleSheet(f"QFrame#saveWarning {{ background: {RED_SOFT}; border: 2px "
                           f"solid {RED}; border-radius: 4px; }} QLabel {{ color: {RED}; "
                           "border: none; }")
        # Never focused: a bar that took the keys would eat the next labels.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName("Labels not saved")
        self._label = QLabel()
        self._label.setTextFormat(Qt.TextFormat.PlainText)  # item and class names, as typed
        self._label.setWordWrap(True)
        self._label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self._label)
        self.lost = 0  # label actions not saved since the last saved one
        self.hide()

    def text(self) -> str:
        """What the bar says (empty while hidden)."""
        return self._label.text() if self.lost else ""

    def not_saved(self, message: str) -> None:
        """One more label not saved: ``message`` says which, why and what to do."""
        self.lost += 1
        count = "" if self.lost == 1 else (
            f"{plural(self.lost, 'label was', 'labels were')} not saved so far. ")
        show_warning(self._label, f"{message}\n{count}Labels given until this is put "
                     "right are not saved either: once it is, give them again. This bar "
                     "goes when a label is saved.")
        self.setAccessibleDescription(self._label.accessibleName())  # "Warning: ...", no sign
        self.show()

    def saved(self, *_items: object) -> None:
        """A label was saved (``labels_changed``'s items): writes work again."""
        self.lost = 0
        self._label.clear()
        self.hide()


def install(window: QMainWindow, labeller: Labeller) -> SaveWarning:
    """Put a :class:`SaveWarning` above ``window``'s central widget, fed by ``labeller``
    (its ``not_saved`` shows it, its ``labels_changed`` clears it)."""
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
    labeller.labels_changed.connect(bar.saved)
    return bar
