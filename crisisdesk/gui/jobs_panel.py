"""The jobs panel: one row per long job with its progress, rate, ETA, device and Cancel.

Jobs run through :class:`~crisisdesk.gui.worker.JobRunner` (never on the GUI thread).
Finished jobs stay listed with how they ended; a failed job shows its message in its row
(the full trace behind "Details…"), so nothing stops silently. A job that failed because
a model is missing offers to download it (as a job of its own, with progress) or to use
a local folder; "Retry" then runs the same job again, which only does what is missing.
Only the newest :data:`KEEP_DONE` rows of jobs that ended well are kept (a day of
Predicts, imports and exports made hundreds of rows, thousands of widgets); failed and
cancelled ones stay until "Clear finished".
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.gui.job_row import (  # noqa: F401 - callers import them from here
    STATE_COLOUR,
    JobRow,
    MakeJob,
    Then,
    format_rate,
    format_seconds,
    missing_model,
)
from crisisdesk.gui.worker import JobRunner

#: Rows of jobs that ended well kept in the panel: beyond these, the ones that ended
#: first go. A failed or cancelled row is never dropped so: it has something to say
#: (its message) or to do (Retry, a model's download) until "Clear finished".
KEEP_DONE = 20
#: How often the running rows re-read their rate and ETA without a progress: a silent
#: job yields nothing that would update its row.
TICK_MS = 1000


class JobsPanel(QWidget):
    """The list of the window's jobs, newest first; ``run`` starts one."""

    job_finished = Signal(str, str)  # title, state (done | cancelled | failed)
    job_noted = Signal(str, int)  # title, notes: a job ended with notes in its row
    #: The keys were on a button about to be hidden, disabled or removed: the window
    #: takes them back (else Qt gave them to the next widget of its Tab chain, the queue
    #: panel, where ↓ changed the queue and the labelling keys did nothing).
    keys_released = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[JobRow] = []
        self.dropped = 0  # rows of done jobs let go (KEEP_DONE), since the last Clear
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.setContentsMargins(6, 4, 6, 0)
        self.summary = QLabel("No jobs yet")
        self.clear = QPushButton("Clear finished")
        self.clear.clicked.connect(self.clear_finished)
        self.clear.setEnabled(False)
        # Failed jobs said apart: under newer rows a failed one was out of the dock's few
        # lines, counted among the "finished", once the status bar's word had gone.
        self.failures = QLabel()
        self.failures.setStyleSheet(f"color: {STATE_COLOUR['failed']}; font-weight: bold;")
        self.failures.setToolTip("A failed job's row stays, with its message, Details and "
                                 "Retry, until Clear finished")
        self.failures.setVisible(False)
        head.addWidget(self.summary)
        head.addWidget(self.failures)
        head.addStretch(1)
        head.addWidget(self.clear)
        outer.addLayout(head)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self._list = QVBoxLayout(body)
        self._list.setContentsMargins(6, 4, 6, 6)
        self._list.setSpacing(6)
        self._list.addStretch(1)
        scroll.setWidget(body)
        # Tab reaches it (it scrolls rows whose text takes no focus): said "client" unnamed.
        scroll.setAccessibleName("Jobs")
        outer.addWidget(scroll, 1)
        self._scroll = scroll
        # One timer for all rows, running only while a job runs (_update_summary): a job
        # stuck in one long batch kept its last rate and an ETA that counted nothing down.
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self._tick)
        self._fit_to_jobs()

    def run(self, title: str, make_job: MakeJob, *, unit: str = "items",
            then: Then | None = None, scale: int = 1) -> JobRunner:
        """Start a job: ``make_job()`` runs in the worker thread and returns the generator.
        ``then(state, value)`` runs when it ends, and again when Retry reruns it.
        ``scale``: the job's progress per one ``unit`` (see :class:`JobRow`)."""
        # No Qt parent: a runner must outlive the panel while its thread runs (the worker
        # keeps it alive until it ends).
        runner = JobRunner(title, make_job)
        row = JobRow(self, runner, make_job, unit, then, scale)
        if then is not None:
            runner.finished.connect(then)
        self.rows.insert(0, row)
        self._list.insertWidget(0, row)
        runner.start()
        self._update_summary()
        return runner

    def row_of(self, runner: JobRunner) -> JobRow:
        """The row showing ``runner``."""
        return next(row for row in self.rows if row.runner is runner)

    def focus_job(self) -> bool:
        """Give the keys to the jobs (Ctrl+J): the newest running job's Cancel, else the
        newest row's first button shown (Report…, Details…, Retry); False when there is
        none."""
        rows = [r for r in self.rows if r.runner.is_running()] + self.rows
        for row in rows:
            for button in (row.cancel, row.download, row.local, row.report, row.details,
                           row.retry):
                if button.isVisibleTo(row) and button.isEnabled():
                    button.setFocus(Qt.FocusReason.ShortcutFocusReason)
                    return True
        if self.clear.isEnabled():
            self.clear.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return True
        return False

    def release_keys(self, *widgets: QWidget) -> None:
        """Before ``widgets`` are hidden, disabled or removed: if the keys are on one of
        them (or inside one), hand them back to the window (``keys_released``)."""
        focus = QApplication.focusWidget()
        if focus is not None and any(w is focus or w.isAncestorOf(focus) for w in widgets):
            self.keys_released.emit()

    def running(self) -> list[JobRunner]:
        return [row.runner for row in self.rows if row.runner.is_running()]

    def clear_finished(self) -> None:
        """Drop the rows of jobs that ended."""
        ended = [r for r in self.rows if not r.runner.is_running()]
        self.release_keys(self.clear, *ended)  # Clear is disabled once they are gone
        self._drop(ended)
        self.dropped = 0
        self._update_summary()

    def _drop(self, rows: list[JobRow]) -> None:
        """Remove ``rows`` from the panel (the caller took the keys back from them)."""
        for row in rows:
            self.rows.remove(row)
            row.setParent(None)
            row.deleteLater()

    def _drop_old_done(self) -> None:
        """Keep the KEEP_DONE rows of done jobs that ended last (by their end, not their
        start: a Retrain started in the morning shows how it ended, not gone at once)."""
        done = sorted((r for r in self.rows if r.runner.state == "done"),
                      key=lambda r: r.runner.ended_at or 0.0, reverse=True)
        old = done[KEEP_DONE:]
        if old:
            self.release_keys(*old)
            self._drop(old)
            self.dropped += len(old)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel the running jobs and wait for their threads (window closing), all of
        them within ``timeout_ms``: a wait each, one after the other, froze the closing
        window 10 s more for every job stuck short of its next yield."""
        running = self.running()
        for runner in running:
            runner.cancel()  # all first: they stop side by side
        deadline = time.monotonic() + timeout_ms / 1000
        for runner in running:
            runner.wait(max(0, round((deadline - time.monotonic()) * 1000)))

    def _finished(self, row: JobRow, state: str) -> None:
        self._drop_old_done()
        self._update_summary()
        self.job_finished.emit(row.runner.title, state)
        if row.notes and state == "done":
            self.job_noted.emit(row.runner.title, len(row.notes))

    def _tick(self) -> None:
        for row in self.rows:
            row.tick()

    def _update_summary(self) -> None:
        running = len(self.running())
        if not running:
            self.ticker.stop()
        elif not self.ticker.isActive():
            self.ticker.start()
        self.clear.setEnabled(len(self.rows) > running)
        # A retried row's failure is no longer news: its rerun's row says how it went.
        failed = sum(row.runner.state == "failed" and not row.retried for row in self.rows)
        self.summary.setText(self._counts(running, failed) if self.rows else "No jobs yet")
        self.failures.setText(f"{failed} failed: see {'its row' if failed == 1 else 'their rows'}")
        self.failures.setVisible(bool(failed))
        self._fit_to_jobs()

    def _counts(self, running: int, failed: int) -> str:
        """The rows counted by how their jobs ended, adding up to the rows listed: "0
        running, 4 finished" beside "1 failed" read as if four had gone well. The failed
        ones not retried are the red ``failures`` label's, which follows."""
        states = [row.runner.state for row in self.rows]
        done, cancelled = states.count("done"), states.count("cancelled")
        retried = states.count("failed") - failed
        parts = [f"{running} running"]
        if done or self.dropped:
            older = f" (and {self.dropped} older, no longer listed)" if self.dropped else ""
            parts.append(f"{done} done{older}")
        if retried:
            parts.append(f"{retried} failed, then retried")
        if cancelled:
            parts.append(f"{cancelled} cancelled")
        return " · ".join(parts) + (" ·" if failed else "")

    def _fit_to_jobs(self) -> None:
        """Without jobs, only the summary line: the empty list took a sixth of a
        600-pixel window. With jobs, the list shows and the dock holding the panel grows
        to show the newest row whole (it stayed 100 pixels: a row's buttons cut off)."""
        empty = not self.rows
        self._scroll.setVisible(not empty)
        grows = QSizePolicy.Policy.Maximum if empty else QSizePolicy.Policy.Preferred
        self.setSizePolicy(QSizePolicy.Policy.Preferred, grows)
        dock, window = self.parentWidget(), self.window()
        if empty or not isinstance(dock, QDockWidget) or not isinstance(window, QMainWindow):
            return
        margins, outer, row = self._list.contentsMargins(), self.layout(), self.rows[0]
        # The row's message line shows with its first progress: room for it now.
        message = 0 if row.message.isVisibleTo(row) else (
            row.message.fontMetrics().height() + row.layout().verticalSpacing())
        panel = (outer.itemAt(0).sizeHint().height() + outer.spacing() + margins.top()
                 + row.sizeHint().height() + message + margins.bottom())
        wanted = dock.height() - self.height() + panel  # the dock's title bar and frame
        wanted = min(wanted, window.height() // 3)  # the items stay the larger part
        if dock.height() < wanted and window.dockWidgetArea(dock) in (
                Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea):
            window.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)
