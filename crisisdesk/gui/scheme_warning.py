"""The status bar's word on a project's stored label schemes that are not used.

A received or restored project may hold a damaged (or crafted) label scheme: the store
leaves that task out and keeps the others usable (``store.scheme_problems()``). Only
``crisisdesk schemes list`` said so; in the app the task's queues and boxes were simply
missing. The word stays in the status bar while the problem lasts (read at the project's
opening and at each refresh), its tooltip holds the reasons, and its link shows them in a
box that blocks nothing: said once, readable again, never a dialog at every refresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from crisisdesk.core.words import plural
from crisisdesk.gui.announce import show_warning
from crisisdesk.gui.job_row import NOTE_COLOUR

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow


class SchemeWarning(QLabel):
    """Hidden while every stored scheme is used; else how many are not, and why."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self._window = window
        self.problems: list[str] = []
        self._box: QMessageBox | None = None
        self.setObjectName("schemeWarning")
        self.setAccessibleName("Label schemes not used")
        self.setTextFormat(Qt.TextFormat.RichText)  # only our words and a link: no names
        self.setStyleSheet(f"color: {NOTE_COLOUR};")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.linkActivated.connect(lambda _link: self.show_details())
        self.hide()
        window.statusBar().addPermanentWidget(self)

    def check(self) -> None:
        """Read the project's scheme problems in the background; shown when they arrive."""
        project = self._window.project

        def read() -> list[str]:
            with project.open_store() as store:
                return store.scheme_problems()

        # A store that cannot be opened is said by the list and the counts already.
        self._window.background.call(read, self._show, lambda _message: None,
                                     key=f"scheme-problems-{id(self)}")

    def _show(self, problems: list[str]) -> None:
        new = problems != self.problems
        self.problems = problems
        self.setVisible(bool(problems))
        if not problems:
            return
        count = plural(len(problems), "stored label scheme")
        self.setToolTip("\n\n".join(problems))  # first: the words said end with it
        show_warning(self, f"{count} not used: <a href='why'>why…</a>")
        if new:  # once, not at every refresh: the word stays for a second look
            # Without the store's path it starts with (in the tooltip and "why…"): the
            # path took the status bar's room, the task and the reason cut off.
            said = problems[0].removeprefix(f"{self._window.project.db_path}: ")
            self._window.statusBar().showMessage(said[:1].upper() + said[1:], 30000)

    def show_details(self) -> QMessageBox:
        """The reasons in a box that leaves the window usable (it names what to do)."""
        if self._box is not None:
            self._box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, "Label schemes not used",
                          "\n\n".join(self.problems), QMessageBox.StandardButton.Close,
                          self._window)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Only this box's own deletion forgets it: the one it replaces is deleted after
        # it opened, and forgetting this one then left it open beside the next.
        box.destroyed.connect(lambda *_: self._forget(box))
        box.show()
        self._box = box
        return box

    def _forget(self, box: QMessageBox) -> None:
        """``box`` is deleted: no box to close at the next show_details, if it was ours."""
        if self._box is box:
            self._box = None
