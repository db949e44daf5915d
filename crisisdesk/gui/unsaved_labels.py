"""Labels not saved when the window closes: the question that can keep the window open,
and the list of those labels, written beside the project, to give them again.

"Nothing lost": each label is committed the moment it is given, and the red bar
(``save_warning.py``) says so while writes fail. Closing wrote the labels still waiting,
and those it could not write (a full drive, the store gone) were said on stderr only: the
window closed as if all was saved. Now the window asks first, names each label not saved
(item id, task, class) in text that can be copied, and writes the same list to
``exports/labels-not-saved-<time>.csv`` (or the home folder, where the project's drive
takes no file either), which ``crisisdesk label`` takes back line by line.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QMessageBox,
                               QPlainTextEdit, QVBoxLayout, QWidget)

from crisisdesk.core.exporters import spreadsheet_safe
from crisisdesk.core.files import atomic_write
from crisisdesk.core.words import plural

SHOWN = 200  # lines the question lists at most: a Ctrl+A label of 100,000 items is in the file
PREDICTED = "(its predicted class)"  # an accepted prediction whose class is not known
COLUMNS = ("item", "task", "class", "note")


@dataclass(frozen=True)
class Unsaved:
    """One label action that was not saved: what it was, for which items, and why."""

    what: str  # as the status bar said it: "damage: mild damage for item …", "undone"
    why: str  # why not saved, and what to do
    task: str = ""
    label: str = ""  # the class given (its stored name); "" for accepting the prediction
    items: tuple[str, ...] = ()  # the ids of the items it was for (plain, no marks)
    unread: int = 0  # items of a selection not read yet: their ids are not known
    reverting: bool = False  # an undo or redo
    #: Accepting the prediction: each of ``items``' predicted class as the list showed
    #: it ("": none), so its line can be given back with ``crisisdesk label``.
    predicted: tuple[str, ...] = ()
    at: str = ""  # when it failed (the store's time format): a label given since stands

    def count(self) -> int:
        """How many labels it stands for (an undo or redo: one change)."""
        return max(1, len(self.items) + self.unread)

    def classes(self) -> tuple[str, ...]:
        """Each of :attr:`items`' class: the one given, else its predicted class ("":
        not known)."""
        return tuple(self.label or cls for cls in
                     self.predicted or ("",) * len(self.items))


def labels_in(unsaved: Sequence[Unsaved]) -> int:
    """How many labels ``unsaved`` stands for (what the bar and the question count)."""
    return sum(lost.count() for lost in unsaved)


def rows(unsaved: Sequence[Unsaved]) -> list[tuple[str, str, str, str]]:
    """The list's lines: (item, task, class, note), one per item labelled."""
    out: list[tuple[str, str, str, str]] = []
    for lost in unsaved:
        if lost.reverting:  # nothing to give again: the analyst presses it again
            done = "an undo (Ctrl+Z)" if lost.what == "undone" else "a redo (Ctrl+Shift+Z)"
            out.append(("", "", "", f"{done} was not done: {lost.why}"))
            continue
        out += [(uid, lost.task, cls or PREDICTED, lost.why)
                for uid, cls in zip(lost.items, lost.classes(), strict=True)]
        if lost.unread:
            out.append(("", lost.task, lost.label or PREDICTED,
                        f"{plural(lost.unread, 'more item')} selected "
                        f"in the list (not shown yet, their ids not known): {lost.why}"))
    return out


def listing(unsaved: Sequence[Unsaved], shown: int = SHOWN) -> str:
    """The labels not saved as text to copy: a line each, tab-separated (item, task,
    class), the reason after them; at most ``shown`` lines, the rest counted."""
    lines = ["\t".join(row[:3]) if row[0] else row[3] for row in rows(unsaved)]
    more = len(lines) - shown
    return "\n".join(lines[:shown] + ([f"… and {more:,} more (see the file)"]
                                      if more > 0 else []))


def write_list(folders: Sequence[Path], name: str, unsaved: Sequence[Unsaved]
               ) -> tuple[Path | None, str]:
    """Write the labels not saved as ``name`` (a CSV, atomically) in the first of
    ``folders`` that takes it; the path, or None and why none took it."""
    why = ""
    for folder in folders:
        path = folder / name
        try:
            with atomic_write(path) as handle:
                handle.write("\ufeff")  # a BOM: a spreadsheet reads the ids as UTF-8
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                writer.writerows([spreadsheet_safe(cell) for cell in row]
                                 for row in rows(unsaved))
        except OSError as exc:
            why = f"{path}: {exc.strerror or exc}"
            continue
        return path, ""
    return None, why


def list_name() -> str:
    """The file name of a list of labels not saved, by the time of closing."""
    return time.strftime("labels-not-saved-%Y%m%d-%H%M%S.csv")


def ask_to_close(window: QWidget, unsaved: Sequence[Unsaved], written: Path | None,
                 not_written: str, close: Callable[[], None]) -> QMessageBox:
    """Ask, without blocking, whether to close ``window`` though ``unsaved`` labels are
    lost: ``close`` runs on "Close anyway"; Esc, Enter and "Keep the window open" leave
    it open. ``written``: where the list is, else ``not_written`` says why not."""
    count = labels_in(unsaved)
    text = (f"{plural(count, 'label')} could not be saved: {unsaved[-1].why}")
    where = (f"The list of them is in {written}: give them again from it (in the app, or "
             "with crisisdesk label) once labels can be saved again." if written else
             f"Their list could not be written ({not_written}): copy it from Show "
             "Details before closing.")
    box = QMessageBox(QMessageBox.Icon.Warning, "Labels not saved", text,
                      QMessageBox.StandardButton.NoButton, window)
    box.setInformativeText(f"{where}\n\nClosing now loses them. Keep the window open to "
                           "put it right: once a label is saved, Save them now on the bar "
                           "at the top gives them again.")
    box.setDetailedText(listing(unsaved))
    box.setTextFormat(Qt.TextFormat.PlainText)  # item ids and class names, as typed
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    keep = box.addButton("&Keep the window open", QMessageBox.ButtonRole.RejectRole)
    leave = box.addButton("&Close anyway", QMessageBox.ButtonRole.DestructiveRole)
    # The safe answer takes Enter and Esc: a key pressed in a hurry keeps the labels.
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    leave.clicked.connect(close)
    # Not deleted on close: the window holds it, and deletes it when it asks again.
    box.open()  # window-modal, not exec(): the window's own events go on meanwhile
    return box


def show_list(window: QWidget, unsaved: Sequence[Unsaved]) -> QDialog:
    """Show, without blocking, the labels not saved as the close question lists them,
    in text that can be copied (the red bar's note, Show them)."""
    dialog = QDialog(window)
    dialog.setWindowTitle("Labels not saved")
    count = labels_in(unsaved)
    said = QLabel(f"{plural(count, 'label')} given while saving failed: item, task, class "
                  "(copy them; Save them now on the bar gives them again)")
    said.setWordWrap(True)
    text = QPlainTextEdit(listing(unsaved))
    text.setReadOnly(True)
    text.setAccessibleName("Labels not saved")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    for widget in (said, text, buttons):
        layout.addWidget(widget)
    dialog.resize(640, 360)
    dialog.open()
    return dialog
