"""Jobs > History…: the project's jobs as the jobs table keeps them, newest first.

The jobs panel shows this window's jobs only, and forgets them at Clear finished or on
closing; the project keeps every job's record (``jobs``: kind, state, counts, error,
times). Each line says what ran, when, for how long, how it ended (done, failed,
cancelled, interrupted, running) and its message in plain words. A finished retrain's
line opens its own report (Report…, Enter or a double-click): ``report_wanted`` carries
its jobs row, and the window opens it as Jobs > Last retrain report opens the newest. The
records are read off the UI thread, :data:`PAGE` at a time ("Show older jobs"): a project
of years holds thousands. Tab goes from the list to its buttons; the arrows move in it.
While open it looks again for jobs added or ended by another window or program (the
CLI) on the project: when activated, and every :data:`POLL_MS`; a running job's counts
and time so far change in its cells, in place (the keys' cursor and a screen reader stay
where they are). A line under the list says what the selected job ran on (the cells'
tooltips are a mouse's only). Each line's words: :mod:`~crisisdesk.gui.dialogs.job_lines`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.project import Project
from crisisdesk.core.words import plural
from crisisdesk.gui.announce import announce
from crisisdesk.gui.dialogs.job_lines import COLUMNS, JobLine, job_line
from crisisdesk.gui.screen_fit import fit_to_screen
from crisisdesk.gui.worker import Background

#: Job records read at a time (the first page, then each "Show older jobs").
PAGE = 200
#: How often an open history looks for a job added or ended elsewhere (milliseconds):
#: one page read off the UI thread, the lines read again only when one was; a running
#: job's counts and time so far put into its cells in place.
POLL_MS = 5000
NO_REPORT = "Only a retrain that finished has a report to open"


def read_page(project: Project, before: int | None, down_to: int | None = None
              ) -> list[JobLine]:
    """The PAGE jobs before jobs row ``before`` (None: the newest), in words; with
    ``down_to``, page after page until jobs row ``down_to`` is among them (the lines a
    refresh must show again: those the analyst had, and any newer). Run in a worker: it
    reads the store."""
    rows: list[dict[str, Any]] = []
    with project.open_store() as store:
        while True:
            page = store.jobs_page(before, PAGE)
            rows += page
            if down_to is None or len(page) < PAGE or page[-1]["id"] <= down_to:
                break
            before = page[-1]["id"]
    now = datetime.now(UTC)
    return [job_line(row, now) for row in rows]


def _ran_on(line: JobLine) -> str:
    """What ``line``'s job ran on, as its cells' tooltips and descriptions say it."""
    return f"Ran on: {line.ran_on}" if line.ran_on else ""


def _tooltip(text: str, line: JobLine) -> str:
    """A cell's tooltip: its ``text`` and what the job ran on (the row's, wherever it is
    pointed at)."""
    return "\n".join(filter(None, (text, _ran_on(line))))


class JobHistoryDialog(QDialog):
    """The project's jobs, newest first; a finished retrain's line opens its report."""

    report_wanted = Signal(int)  # the jobs row of a retrain whose report is asked for

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(f"Job history: {project.root.name}")
        self.lines: list[JobLine] = []
        self._reading = False  # a read of lines is on its way: a look waits for the next
        self._refilling = False  # the lines are put back: the selection is set again
        # A look's read is on its way: on a slow or stalled drive the next tick waits for
        # it, rather than queue another read (and a Refresh) behind it every few seconds.
        self._looking = False
        self.background = Background(self, max_threads=1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Jobs of this project, newest first")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        # Tab went from cell to cell: Report… and the other buttons were out of the
        # keys' reach. The arrows move through the lines.
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # The message column's width changes after the rows were sized (the other
        # columns settle on their contents; the window is made narrower), and the
        # stretched column says nothing of it: its lines were cut off ("found 5…").
        # The rows are sized again once the header's width or a column's has changed.
        self._fit_rows = QTimer(self)
        self._fit_rows.setSingleShot(True)
        self._fit_rows.setInterval(0)  # once per round of events, not per resize
        self._fit_rows.timeout.connect(self.table.resizeRowsToContents)
        header.sectionResized.connect(lambda *_: self._fit_rows.start())
        header.installEventFilter(self)
        self.table.itemSelectionChanged.connect(self._selected)
        # The keyboard's line is the selected one: focus coming to the list put its cursor
        # on the first line unselected, so the line under the list said "Select a job"
        # beside it, Report stayed off and Ctrl+Home (already there) changed nothing.
        self.table.currentCellChanged.connect(self._select_current)
        self.table.cellDoubleClicked.connect(lambda _row, _column: self.open_report())
        self.status = QLabel("Reading the project's jobs…")
        self.status.setWordWrap(True)
        # What the selected job ran on: the cells' tooltips said it to a mouse only.
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.report = QPushButton("Report…")
        self.report.setToolTip(NO_REPORT)
        # Enter on a line opens its report, as a double-click does: it clicked Close (the
        # default then), and on a line without a report it closes nothing now.
        self.report.setDefault(True)
        self.report.clicked.connect(self.open_report)
        self.older = QPushButton("Show older jobs")
        self.older.clicked.connect(lambda: self._read(self.lines[-1].job))
        self.refresh = QPushButton("Refresh")
        self.refresh.clicked.connect(self.reload)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.report, self.older, self.refresh):
            buttons.addWidget(button)  # Enter on one clicks it (it clicked Close)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        # Sized to the font: at 900 pixels with large text the four short columns took
        # 700 of them and each message wrapped two words a line.
        chars = self.fontMetrics().averageCharWidth()
        self.resize(max(900, 150 * chars), max(500, 50 * self.fontMetrics().height() // 2))
        fit_to_screen(self)
        self._selected()
        self._read(None)
        # Jobs of another window or of the CLI on the project: this window hears only
        # of its own jobs' ends (reload), and its lines went stale while open.
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._look)
        self._poll.start()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        """Back to the history (from the main window, a terminal): look for new jobs."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self._look()

    def _look(self) -> None:
        """Read the newest page of jobs off the UI thread and, when a job was added or
        ended since the lines were read, read them again (:meth:`reload`, quietly)."""
        if self._reading or self._looking or not self.isVisible():
            return  # the read on its way brings them; a hidden history needs none
        project = self.project
        self._looking = True

        def looked() -> None:
            self._looking = False

        def compare(page: list[JobLine]) -> None:
            looked()
            if self._reading:
                return  # Refresh or Show older meanwhile: not overtaken by a look's read
            shown = [(line.job, line.outcome) for line in self.lines[:len(page)]]
            if [(line.job, line.outcome) for line in page] != shown:
                self.reload(quiet=True)
            else:
                self._update_in_place(page)

        # Failed: said by the next Refresh, not every few seconds.
        self.background.call(lambda: read_page(project, None), compare,
                             lambda _: looked(), key="look")

    def _update_in_place(self, page: list[JobLine]) -> None:
        """Put the newer words of ``page`` (the same jobs, ended as shown: a running job's
        counts and time so far) into the cells that changed. Each cell's own change (the
        model's dataChanged), not the lines read again: a reset every few seconds moved the
        keys' cursor and a screen reader back to the top of the list."""
        changed = False
        for row, line in enumerate(page):
            if line == self.lines[row]:
                continue  # a line unchanged is not rewritten: a screen reader may say it
            self.lines[row] = line
            for column, text in enumerate(line.cells()):
                item = self.table.item(row, column)
                if item is not None and item.text() != text:
                    item.setText(text)
                    item.setToolTip(_tooltip(text, line))
                    changed = True
        if changed:
            self.table.resizeRowsToContents()  # a longer message may wrap once more

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:  # the header's: the table's width
            self._fit_rows.start()
        return False

    def _busy(self) -> None:
        """Show older jobs and Refresh off while a read runs; the keys, if on one of
        them, to the list (disabled under them, they fell to Close: the next Space shut
        the window)."""
        if self.older.hasFocus() or self.refresh.hasFocus():
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        for button in (self.older, self.refresh):
            button.setEnabled(False)

    def _read(self, before: int | None, quiet: bool = False) -> None:
        """Read the page of jobs before jobs row ``before`` (None: from the newest again);
        ``quiet``: leaving the keys and the buttons as they are (a look's read)."""
        if not quiet:
            self._busy()
        self._reading = True
        self.background.call(lambda: read_page(self.project, before),
                             lambda lines: self._show(lines, before is None),
                             self._failed, key="history")

    def reload(self, quiet: bool = False) -> None:
        """Read the jobs shown again, and any newer (a job of this window ended, or
        Refresh), keeping the line selected and the lines in view. Off the UI thread.
        ``quiet``: a look found a job added or ended elsewhere; the keys and the buttons
        stay where they are (a Refresh or Show older meanwhile overtakes it)."""
        if not self.lines:
            self._read(None, quiet)
            return
        if not quiet:
            self._busy()
        self._reading = True
        project, oldest = self.project, self.lines[-1].job
        selected = self.selected()
        top = self.table.rowAt(0)  # the line at the top of the view (-1: none)
        # Scrolled to the very top, the view stays there: the new job comes into it.
        anchor = (self.lines[top].job if top >= 0 and
                  self.table.verticalScrollBar().value() > 0 else None)

        def show(lines: list[JobLine]) -> None:
            # Report… kept as it is while the selection is cleared and set again: turned
            # off, it handed the keys on to Refresh (the next Space refreshed).
            self._refilling = True
            try:
                self._show(lines, True)
                self._keep_place(None if selected is None else selected.job, anchor)
            finally:
                self._refilling = False
            self._selected()

        self.background.call(lambda: read_page(project, None, down_to=oldest), show,
                             self._failed, key="history")

    def _keep_place(self, selected: int | None, top: int | None) -> None:
        """Select the line of jobs row ``selected`` again and bring the line of jobs row
        ``top`` back to the top of the view (None: leave each as it is)."""
        rows = {line.job: row for row, line in enumerate(self.lines)}
        if selected in rows:
            self.table.selectRow(rows[selected])
        if top in rows:
            self.table.scrollToItem(self.table.item(rows[top], 0),
                                    QAbstractItemView.ScrollHint.PositionAtTop)
        else:
            self.table.scrollToTop()

    def _show(self, lines: list[JobLine], first: bool) -> None:
        self._reading = False
        if first:
            self.lines = []
            self.table.setRowCount(0)
        self.lines += lines
        for line in lines:
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, text in enumerate(line.cells()):
                item = QTableWidgetItem(text)
                item.setToolTip(_tooltip(text, line))
                # A screen reader says no tooltip: the cell's description, said after it.
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, _ran_on(line))
                self.table.setItem(row, column, item)
        if not first and lines:  # Show older jobs: on the first of them, said
            self.table.setCurrentCell(len(self.lines) - len(lines), 0)
        more = bool(lines) and len(lines) % PAGE == 0  # its last page was full
        self.older.setEnabled(more)
        self.refresh.setEnabled(True)
        shown = plural(len(self.lines), "job")
        self.status.setText("No jobs have run in this project yet." if not self.lines else
                            f"The newest {shown}, newest first." if more else
                            f"All {shown} of this project, newest first.")
        self.table.resizeRowsToContents()

    def _failed(self, message: str) -> None:
        self._reading = False
        self.refresh.setEnabled(True)
        self.status.setText(f"The project's jobs could not be read: {message}")
        announce(self.status, self.status.text())  # the keys are on the list, not here

    def _select_current(self, row: int, *_: int) -> None:
        """Select the line the keyboard's cursor came to, where it is not selected."""
        if row >= 0 and not self.table.selectionModel().isRowSelected(row):
            self.table.selectRow(row)

    def selected(self) -> JobLine | None:
        """The line selected, or None."""
        rows = self.table.selectionModel().selectedRows()
        return self.lines[rows[0].row()] if rows else None

    def _selected(self) -> None:
        if self._refilling:
            return  # said once the line selected is selected again
        line = self.selected()
        self.report.setEnabled(line is not None and line.has_report)
        self.report.setToolTip("" if self.report.isEnabled() else NO_REPORT)
        self.details.setText(
            "Select a job to see what it ran on." if line is None else
            f"{line.what}, started {line.started}, ran on: {line.ran_on}." if line.ran_on
            else f"{line.what}, started {line.started}: its record does not say what it "
            "ran on.")

    def open_report(self) -> None:
        """Ask for the selected retrain's report (``report_wanted``); nothing for a line
        of another job, or of a retrain that did not finish (it has no report)."""
        line = self.selected()
        if line is not None and line.has_report:
            self.report_wanted.emit(line.job)

    def done(self, result: int) -> None:
        """Close, dropping a read still running (it never waits for it)."""
        self._poll.stop()
        self.background.shutdown()
        super().done(result)


__all__ = ["JobHistoryDialog", "JobLine", "job_line", "read_page"]
