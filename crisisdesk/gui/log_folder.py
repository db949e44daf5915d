"""Help > Show log folder…: the folder of the app's log opened in the file manager, so an
analyst can send its files to whoever looks into a failure.

Where the file manager cannot be opened (none registered, a remote session), the folder's
path is said in a box whose text can be copied (and a button copies the path: the keys
cannot select the text); where no log is kept, the box says why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from crisisdesk.core.app_log import LOG_NAME, log_file, log_folder, log_problem

TITLE = "Log folder"


def show_log_folder(parent: QWidget | None) -> QMessageBox | None:
    """Open the log's folder in the file manager; else a box saying where it is (or why
    there is no log). Returns the box shown, None when the folder opened."""
    folder, problem = log_folder(), log_problem()
    if problem is None and log_file() is not None and QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(folder))):
        return None
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
    return box
