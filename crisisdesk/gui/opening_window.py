"""The small window shown while the app finds the project it opens (and upgrades it, or
builds the demo), and what that window says at each turn.

The app's start-up (:mod:`crisisdesk.gui.app`) drives it; nothing here does any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from crisisdesk.core.progress import Progress

if TYPE_CHECKING:  # the core's launch module loads off the UI thread
    from crisisdesk.core.launch import DemoOpening, ProjectNotOpened

#: How long the last project's folder may take to answer before the opening window says
#: that it waits on its drive (ms): a drive waking up takes a second or two, a share
#: gone stale minutes. A module value so that a test can make it 0.
DRIVE_WAIT_MS = 3000


class OpeningWindow(QWidget):
    """A small window shown while the project is found or the demo is built."""

    def __init__(self, what: str) -> None:
        super().__init__(None, Qt.WindowType.Dialog)
        self.setWindowTitle("crisisdesk")
        layout = QVBoxLayout(self)
        self.label = QLabel(what)
        # Wrapped: the window is sized to its first words ("Opening the last project…"),
        # and the longer ones of an upgrade were cut before their "step 3 of 5".
        self.label.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)  # busy: building the demo reports no steps
        bar.setAccessibleName(what)  # the window's only widget a screen reader reads
        layout.addWidget(self.label)
        layout.addWidget(bar)
        self.bar = bar
        # Room for the ~70 characters of an upgrade's words on one line (wrapped past it).
        self.setMinimumWidth(max(360, self.fontMetrics().averageCharWidth() * 72))
        self._looked_at: Path | None = None  # the last project's folder, while looked into
        self._drive_wait = QTimer(self)
        self._drive_wait.setSingleShot(True)
        self._drive_wait.timeout.connect(self._drive_slow)

    def waiting_on(self, last: Path) -> None:
        """The last project's folder ``last`` is being looked into: if it has not
        answered after :data:`DRIVE_WAIT_MS`, say that the window waits on its drive
        (else "Starting crisisdesk…" stood for as long as a share gone stale hung)."""
        self._looked_at = last
        self._drive_wait.start(DRIVE_WAIT_MS)

    def answered(self) -> None:
        """The last project's folder answered (:meth:`waiting_on`): nothing to say."""
        self._looked_at = None
        self._drive_wait.stop()

    def _drive_slow(self) -> None:
        if self._looked_at is not None:
            self.say(waiting_words(self._looked_at))

    def show_progress(self, progress: Progress) -> None:
        """Show a job's progress (the demo build, an upgrade) in the bar and the label."""
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
        if progress.message:
            self.say(progress.message[:80])

    def say(self, words: str) -> None:
        """Say ``words`` in the label (and to a screen reader, by the bar's name)."""
        self.label.setText(words)
        self.bar.setAccessibleName(words)
        # A window, unlike a widget in a layout, does not grow for its wrapped label.
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)


def demo_words(demo: DemoOpening | None) -> str:
    """What the opening window says once it is known which project opens: "first run"
    only when nothing was opened before (a demo built earlier is only opened), and the
    last project named when the demo opens in its place (the analyst's own, on a drive
    not plugged in, is not taken for gone; the demo's window then says why)."""
    if demo is None:
        return "Opening the last project…"
    doing = "opening" if demo.built else "building"
    if demo.instead_of is not None:
        return (f"The last project, {demo.instead_of}, cannot be found: {doing} the "
                "demo project instead…")
    if demo.built:
        return "Opening the demo project…"
    return "Building the demo project (first run)…"


def refused_words(not_opened: ProjectNotOpened) -> str:
    """What the opening window says when the demo, not built yet, is built in place of
    the last project, which is there but was refused (why: in the demo's window)."""
    return (f"The last project, {not_opened.root}, could not be opened: building the "
            "demo project instead…")


def waiting_words(last: Path) -> str:
    """What the opening window says while the last project's folder does not answer
    (a drive waking up, a network share gone stale)."""
    return f"Waiting for the drive of the last project, {last}, to answer…"
