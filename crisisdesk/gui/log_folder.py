"""Help > Show log folder…: the folder of the app's log opened in the file manager, so an
analyst can send its files to whoever looks into a failure.

Where the file manager cannot be opened (none registered, a remote session), the folder's
path is said in a box whose text can be copied (and a button copies the path: the keys
cannot select the text); where no log is kept, the box says why.

The folder (in the user's data folder, perhaps on a network drive) is first looked at in
the background: Qt's desktop services touch the path on the UI thread (in a Flatpak or a
Snap they open it to hand it to the desktop portal; Windows' ShellExecute resolves it),
and a drive that stopped answering froze the window there. They are called once the
folder answered, on the UI thread still: they ask for the focused window (for Wayland's
activation token), which is the UI thread's.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from crisisdesk.core.app_log import LOG_NAME, log_file, log_folder, log_problem
from crisisdesk.gui.background import Background

TITLE = "Log folder"
#: The Background that looks at the folder when the parent has none (no window): the
#: application's, made once.
_own_background: Background | None = None
#: The box shown last without a parent: kept, or Python would free it as it shows.
_parentless_box: QMessageBox | None = None


def show_log_folder(parent: QWidget | None) -> QMessageBox | None:
    """Open the log's folder in the file manager once it answered (looked at in the
    background); else a box saying where it is. Returns the box shown at once, where
    no log is kept (saying why); None when the folder is being looked at."""
    folder, problem = log_folder(), log_problem()
    if problem is not None or log_file() is None:
        return _box(parent, folder, problem)
    # Keyed: clicked again while the drive hangs, the folder opens once when it answers.
    _background_of(parent).call(
        folder.is_dir, lambda there: _hand_over(parent, folder, there),
        lambda _why: _box(parent, folder, None), key="log folder")
    return None


def _hand_over(parent: QWidget | None, folder: Path, there: bool) -> None:
    """Open ``folder``, which answered (``there``: it is a folder), in the file manager;
    else say where it is."""
    if not (there and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))):
        _box(parent, folder, None)


def _background_of(parent: QWidget | None) -> Background:
    """The window's Background (shut down with it, a call hung on the drive let go),
    else the application's."""
    global _own_background
    background = getattr(parent, "background", None)
    if isinstance(background, Background):
        return background
    if _own_background is None or not shiboken6.isValid(_own_background):
        _own_background = Background(QApplication.instance())
    return _own_background


def _box(parent: QWidget | None, folder: Path, problem: str | None) -> QMessageBox:
    """The box saying where the log's ``folder`` is, or the ``problem`` with the log."""
    global _parentless_box
    if problem is not None:
        text = f"{problem[:1].upper()}{problem[1:]}."
    else:
        text = (f"The app's log is in {folder}: {LOG_NAME} and the older files beside "
                "it. Send them with a description of what went wrong.")
    box = QMessageBox(QMessageBox.Icon.Information, TITLE, text,
                      QMessageBox.StandardButton.Ok, parent)
    # The path is to be copied into an e-mail.
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if problem is None:
        # From the keyboard too: Tab never reaches the text, and Ctrl+C copies the
        # whole box on Windows only. The button copies, then closes the box.
        copy = box.addButton("Copy the folder's path", QMessageBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(folder)))
        box.setEscapeButton(QMessageBox.StandardButton.Ok)  # two buttons: Esc chose none
    box.open()
    if parent is None:
        _parentless_box = box
    return box
