"""A watched folder in the app: File > Watch a folder… imports what a collector writes
there, as it comes, until the job's Cancel.

The watch is :class:`crisisdesk.core.importers.watch.WatchJob` run through the jobs panel
(so it has a row with its progress and a Cancel that stops watching). Each poll that
brought new posts asks the window to fetch its queue counts and item list again (both
off the UI thread, as every query is), at most once per :data:`REFRESH_S`: a collector
writing many posts a second must not make the list fetch many times a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog

from crisisdesk.core.progress import Progress
from crisisdesk.gui.worker import JobRunner

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow

REFRESH_S = 1.0  # the list and the counts refresh at most this often while posts arrive


class FolderWatch(QObject):
    """Starts watches for a window and refreshes it, throttled, as posts arrive."""

    def __init__(self, window: MainWindow, jobs: Any) -> None:
        super().__init__(window)
        self.window, self.jobs = window, jobs
        self.refreshes = 0  # how many refreshes the watches asked for (for checks)
        self._last = 0.0
        self._seen: dict[int, int] = {}  # runner id -> records imported at the last refresh
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._refresh)

    def ask(self) -> JobRunner | None:
        """Ask for a folder (File > Watch a folder…) and start watching it."""
        folder = QFileDialog.getExistingDirectory(self.window, "Folder to watch")
        return self.start(Path(folder)) if folder else None

    def start(self, folder: Path, options: Any = None) -> JobRunner:
        """Watch ``folder`` (``options``: a WatchOptions; default: poll every 2 s)."""
        project, folder = self.window.project, Path(folder)

        def make() -> Iterator[Progress]:
            # Imported in the worker, as every job's code is.
            from crisisdesk.core.importers.watch import WatchJob, WatchOptions

            return WatchJob(project, folder, watch=options or WatchOptions()).run()

        runner = self.jobs.run(f"Watch {folder}", make, unit="records")
        # The handlers hold the runner's id, not the runner: a handler on the runner's own
        # signal holding it is a cycle through Qt that Python never collects (every watch
        # of the day, its thread and its last traceback stayed after "Clear finished").
        key = id(runner)
        self._seen[key] = 0
        runner.progress.connect(lambda progress: self._progressed(key, progress))
        runner.finished.connect(lambda *_args: self._seen.pop(key, None))
        return runner

    def _progressed(self, key: int, progress: Progress) -> None:
        if progress.done == self._seen.get(key):
            return  # a poll that found nothing new: nothing to fetch
        self._seen[key] = progress.done
        wait = REFRESH_S - (time.monotonic() - self._last)
        if wait <= 0:
            self._refresh()
        elif not self._timer.isActive():
            self._timer.start(int(wait * 1000) + 1)

    def _refresh(self) -> None:
        self._timer.stop()
        self._last = time.monotonic()
        self.refreshes += 1
        self.window.refresh()
