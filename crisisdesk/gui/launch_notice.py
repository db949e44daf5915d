"""The note at the top of the main window when the demo opened in place of the last
project, which could not be opened: which project, why, and what to do. (Settings the
app cannot use are said in such a note too, see :mod:`crisisdesk.gui.settings_check`.)

It was a status bar message: one line, so a failed upgrade's reason (the step, what the
upgrade left, which release still opens the project, what to do: some 570 characters)
was cut mid-word even at 1366 px, and gone after a minute. Here it wraps at the window's
width and stays until closed. It is not a dialog: it takes no keys from the list, so a
screen reader is told it (announced) as it comes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QMainWindow, QPushButton, QWidget

from crisisdesk.gui.announce import announce
from crisisdesk.gui.wrapping import WrappingLabel

AMBER, AMBER_SOFT = "#8d6e00", "#fef3c7"  # worth reading; nothing is lost
INK = "#111827"  # dark on the light amber in a dark theme too (its text is light)


class LaunchNotice(QFrame):
    """The note: ``text`` wrapped (selectable: the folder's path can be copied), and a
    Close button."""

    def __init__(self, text: str, parent: QWidget | None = None, *,
                 name: str = "Last project not opened",
                 close_name: str = "Close the note on the last project") -> None:
        super().__init__(parent)
        self.setObjectName("launchNotice")
        self.setStyleSheet(f"QFrame#launchNotice {{ background: {AMBER_SOFT}; border: 1px "
                           f"solid {AMBER}; border-radius: 4px; }} QLabel {{ color: {INK}; "
                           "border: none; }")
        self.setAccessibleName(name)
        self.label = WrappingLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # paths and SQLite's words
        self.label.setText(text)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleDescription(text)
        close = QPushButton("Close")
        close.setAccessibleName(close_name)
        close.setAutoDefault(False)
        close.clicked.connect(self.close_note)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def close_note(self) -> None:
        """Hide the note and let it go."""
        self.hide()
        self.deleteLater()


def show_launch_notice(window: QMainWindow, text: str, **names: str) -> LaunchNotice:
    """Show ``text`` in a :class:`LaunchNotice` above ``window``'s central widget (the
    holder save_warning.install made, a vertical layout); ``names``: its accessible
    ``name`` and ``close_name``."""
    notice = LaunchNotice(text, window.centralWidget(), **names)
    window.centralWidget().layout().insertWidget(0, notice)
    # The keys stay on the list: unannounced, a screen reader never said the note.
    announce(notice, f"{notice.accessibleName()}: {text}")
    return notice
