"""One job's row in the jobs panel: its progress, rate, ETA, device, Cancel, and how it
ended (a failed job's message, "Details…", Retry, and for a missing model the download
or a local folder; a done job with a report, a Retrain, "Report…")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
)

from crisisdesk.core.gpu_names import gpu_name
from crisisdesk.core.models import registry
from crisisdesk.core.models.download_job import download_job as model_download_job
from crisisdesk.core.progress import Progress
from crisisdesk.core.words import plural
from crisisdesk.gui.advice import plain_error
from crisisdesk.gui.dialogs.settings_dialog import setting, settings_saved
from crisisdesk.gui.missing_model import missing_model, registration_refused
from crisisdesk.gui.worker import JobRunner

if TYPE_CHECKING:  # the panel imports this module
    from crisisdesk.gui.jobs_panel import JobsPanel

MakeJob = Callable[[], Iterator[Progress]]
Then = Callable[[str, object], None]  # what follows a job's end: (state, result or message)
STATE_TEXT = {"pending": "Waiting", "running": "Running", "done": "Done",
              "cancelled": "Cancelled", "failed": "Failed"}
STATE_COLOUR = {"done": "#2e7d32", "cancelled": "#8d6e00", "failed": "#c62828"}
NOTE_COLOUR = STATE_COLOUR["cancelled"]  # amber: worth reading, nothing went wrong
DOWNLOAD_UNIT = "MB"  # a model download's count: megabytes, so its rate reads MB/s


def format_seconds(seconds: float | None) -> str:
    """``0:42``, ``12:05`` or ``2:03:10``; an en dash when unknown."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def took_words(seconds: float) -> str:
    """How long a job took: "under a second", else ``format_seconds``. "0:00" read as
    no time at all, or a job that did nothing (the CLI's estimates say the same words);
    an ETA and "working for" keep the clock time."""
    return "under a second" if seconds < 1 else format_seconds(seconds)


def counted(n: int, unit: str) -> str:
    """``n`` and the job's unit (a plural: "items", "steps") agreeing: "1 item"."""
    return plural(n, unit.removesuffix("s"), unit)


def format_rate(rate: float | None, unit: str) -> str:
    """``12.3 items/s``, a slow job's per minute or hour (``2.0 captions/min``: a 7B
    captioner on a CPU read "0.0 captions/s"), or ``–`` while not measured."""
    if not rate:
        return f"– {unit}/s"
    for per, seconds in (("s", 1), ("min", 60), ("h", 3600)):
        value = rate * seconds
        if value >= 1:
            break
    return f"{value:,.1f} {unit}/{per}" if value < 100 else f"{value:,.0f} {unit}/{per}"


def device_words(device: str) -> str:
    """Where a job reports it runs, as an analyst reads it: "on the CPU", "on GPU 0",
    "over the network" (a download), "on the server at URL" (a caption server); torch's
    names ("cuda:0") otherwise said as they are. A GPU's model name follows once the
    job's thread learnt it ("on GPU 0, NVIDIA RTX 4090"): nothing here asks CUDA (the UI
    thread never touches the GPU)."""
    if device.startswith(("http://", "https://")):
        return f"on the server at {device}"
    gpu = re.fullmatch(r"cuda(?::(\d+))?", device)
    if gpu:
        where = f"on GPU {gpu.group(1)}" if gpu.group(1) else "on the GPU"
        name = gpu_name(device)
        return f"{where}, {name}" if name else where
    said = {"cpu": "on the CPU", "mps": "on the Apple GPU", "network": "over the network"}
    return said.get(device, f"on {device}") if device else ""


def download_job(name: str) -> Iterator[Progress]:
    """Fetch a model from the hub as a job counting megabytes (DOWNLOAD_UNIT) of its
    files, so the row shows a real bar, rate and ETA."""
    yield from model_download_job(registry.get_spec(name))


class JobRow(QFrame):
    """One job in the panel."""

    def __init__(self, panel: JobsPanel, runner: JobRunner, make_job: MakeJob,
                 unit: str, then: Then | None = None, scale: int = 1) -> None:
        """``scale``: the job's progress per one of its ``unit`` (Retrain: 100 per
        task, for a smooth bar); the row counts whole units ("task 2 of 3")."""
        super().__init__(panel)
        self.panel, self.runner, self.make_job, self.unit = panel, runner, make_job, unit
        self.scale = scale
        self.then = then
        self.setObjectName("jobRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        # Titles and messages hold file names and model names as typed: escaped, so that
        # "R&D <team>.csv" is not taken for markup (Qt dropped "<team>").
        self.title = QLabel(f"<b>{_html(runner.title)}</b>")
        self.state = QLabel(STATE_TEXT["pending"])
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(160)
        self.figures = QLabel("")  # "done / total · rate · ETA"
        self.device = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)  # always escaped: _set_message
        # Selectable from the keyboard too: Tab stops on it, so a screen reader reads a
        # failed job's message and the keys can copy it (the mouse only could).
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.message.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.message.setVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self._cancel)
        self.details = QPushButton("Details…")
        self.details.clicked.connect(self.show_details)
        self.retry = QPushButton("Retry")
        self.retried = False  # Retry pressed: the new row tells how the job ends now
        self._rerun = lambda: panel.run(runner.title, make_job, unit=unit, then=then,
                                        scale=scale)
        self.retry.clicked.connect(self._retry)
        self.download = QPushButton("Download")
        self.local = QPushButton("Use a local folder…")
        # A done job's report again (offer_report: a Retrain's, closed by Esc or Keep).
        self.report = QPushButton("Report…")
        self.report.clicked.connect(lambda: self._open_report() if self._open_report else None)
        self._open_report: Callable[[], None] | None = None
        self.download.clicked.connect(self._download)
        self.local.clicked.connect(self._use_local_folder)
        # Every row has the same buttons: a screen reader says which job each is for
        # (it heard "Cancel" once per running job, never which).
        title = runner.title
        self.bar.setAccessibleName(f"Progress of {title}")
        for button, name in ((self.cancel, f"Cancel {title}"), (self.retry, f"Retry {title}"),
                             (self.details, f"Details of {title}"),
                             (self.report, f"Report of {title}"),
                             (self.download, f"Download the model {title} needs"),
                             (self.local, f"Use a local folder for the model {title} needs")):
            button.setAccessibleName(name)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for button in (self.download, self.local, self.report, self.details, self.retry,
                       self.cancel):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.state, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.bar, 1, 0, 1, 2)
        grid.addWidget(self.figures, 2, 0)
        grid.addWidget(self.device, 2, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.message, 3, 0, 1, 2)
        grid.addLayout(buttons, 4, 0, 1, 2, Qt.AlignmentFlag.AlignRight)
        # Shown only once the layout gave the buttons their parent: a Cancel shown before
        # was a window of its own for a moment, which took the keys from the main window.
        for button in (self.download, self.local, self.report, self.details, self.retry):
            button.setVisible(False)
        grid.setColumnStretch(0, 1)
        self.bar.setRange(0, 0)  # busy until the first progress says how much there is
        runner.progress.connect(self._on_progress)
        runner.finished.connect(self._on_finished)
        self._popup: QMessageBox | None = None
        self.missing_model: str | None = None  # set when the job failed for want of a model
        #: What the job said of how it went (Progress.notes), shown once it ends.
        self.notes: list[str] = []

    # ------------------------------------------------------------------ updates
    def _on_progress(self, progress: Progress) -> None:
        self.state.setText(STATE_TEXT["running"]
                           if not self.runner.cancel_requested else "Cancelling…")
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)
        self._show_figures(progress)
        self.device.setText(device_words(progress.device))
        # Torch's name for it, which an engineer looks for in the logs.
        self.device.setToolTip(f"The device the job reports it runs on ({progress.device})"
                               if progress.device else "")
        self._set_message(_html(progress.message))
        self.notes += [note for note in progress.notes if note not in self.notes]

    def tick(self) -> None:
        """Re-read a running job's rate and ETA with the time now (the panel's ticker):
        a job silent for minutes yields nothing that would, and its last pace stood."""
        if self.runner.is_running():
            self._show_figures(self.runner.last_progress)

    def _show_figures(self, progress: Progress | None) -> None:
        """"done / total · rate · ETA", and how long nothing came once the job stalled (how
        long it has worked, for a job with no total)."""
        scale, rate, eta, parts = self.scale, self.runner.rate, self.runner.eta, []
        if progress is not None:
            done = counted(progress.done // scale, self.unit)
            if progress.total:
                done = f"{progress.done:,} / {counted(progress.total, self.unit)}"
            if progress.total and scale > 1:  # the one under way: "task 2 of 3"
                whole = progress.total // scale
                done = (f"{self.unit.removesuffix('s')} "
                        f"{min(progress.done // scale + 1, whole)} of {whole}")
            # The rate and ETA only once measured: "– captions/s · ETA –" said nothing.
            parts = [done] + ([format_rate(rate / scale, self.unit)] if rate else []) + (
                [f"ETA {format_seconds(eta)}"] if eta is not None else [])
        quiet = self.runner.stalled_for
        if quiet is not None and progress is not None and progress.total:
            parts.append(f"no progress for {format_seconds(quiet)}")
        elif quiet is not None or self.runner.first_advance_wait is not None:
            # A busy bar (the job said no total: a look-up, a watch between files), or a
            # phase whose first unit takes long (a 7B captioner's first batch): a count
            # that stands still is no sign of trouble; "no progress" made analysts cancel
            # good work. Say how long it has been working instead.
            parts.append(f"working for {format_seconds(self.runner.elapsed)}")
        text = " · ".join(parts)
        if text != self.figures.text():  # the ticker's second beats mostly change nothing
            self.figures.setText(text)

    def _on_finished(self, state: str, value: object) -> None:
        runner = self.runner
        colour = STATE_COLOUR.get(state, "")
        self.state.setText(f"<b style='color:{colour}'>{STATE_TEXT.get(state, state)}</b>")
        self.panel.release_keys(self.cancel)
        self.cancel.setVisible(False)
        elapsed = took_words(runner.elapsed)
        last = runner.last_progress
        if state == "done":
            total = (last.total or last.done) if last else 1
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(max(1, total))
            self.figures.setText(f"finished in {elapsed}" + (
                f" · {counted(last.done // self.scale, self.unit)}" if last else ""))
            self.report.setVisible(self._open_report is not None)
        else:
            if self.bar.maximum() == 0:
                self.bar.setRange(0, 1)
                self.bar.setValue(0)
            done = (f"{counted(last.done // self.scale, self.unit)} done" if last
                    else "nothing done")
            after = "in" if runner.elapsed < 1 else "after"  # not "after under a second"
            self.figures.setText(f"stopped {after} {elapsed} · {done}")
            self.retry.setVisible(True)
        if state == "cancelled":
            self._set_message("Cancelled; what was done is kept. Retry resumes.")
        # A job's notes (a head that read texts unlike its training's) are what the CLI
        # prints with its report: here they follow a done job's last words (its outcome,
        # "9 images encoded, 1 unreadable", which they replaced) and a failed one's
        # message (its other tasks were predicted).
        notes = "".join(f"<br><span style='color:{NOTE_COLOUR}'>Note: {_html(note)}</span>"
                        for note in self.notes)
        if state == "done" and notes:
            self._set_message((_html(last.message) + notes if last else notes)
                              .removeprefix("<br>"))
        if state == "failed":
            self._set_message(f"<span style='color:#c62828'>{_html(self.error_text())}</span>"
                              + notes)
            self.message.setToolTip(runner.details)
            self.details.setVisible(True)
            name = missing_model(runner)
            if name:
                self.missing_model = name
                # A registration whose folder vanished wins over the hub cache: only
                # registering where the model is now helps, not a download.
                self.download.setVisible(not registration_refused(runner))
                self.local.setVisible(True)
                self._offer_download()
                # Offline mode saved while the row is shown applies to it at once.
                settings_saved().saved.connect(self._offer_download)
        self.panel._finished(self, state)

    def _retry(self) -> None:
        """Run the job again in a new row (followed by what followed the first run:
        Retrain's report). This row's Retry goes: a second click started a second,
        identical job beside the first; the new row offers Retry if it fails too."""
        self.panel.release_keys(self.retry)
        self.retry.setVisible(False)
        self.retried = True  # its failure is the new row's business now
        runner = self._rerun()
        if self._open_report is not None:  # the rerun's report, once it is done
            self.panel.row_of(runner).offer_report(self._open_report)

    def offer_report(self, open_report: Callable[[], None]) -> None:
        """Show "Report…" once the job is done (at once if it is), calling
        ``open_report`` (a Retrain's report, which it closes by itself)."""
        self._open_report = open_report
        self.report.setVisible(self.runner.state == "done")

    def _offer_download(self) -> None:
        """Enable Download only while offline mode is off (the analyst asked never to go
        online)."""
        offline = setting("offline")
        self.download.setEnabled(not offline)
        self.download.setToolTip("Offline mode is on (Settings)" if offline else "")

    def error_text(self) -> str:
        """The failed job's message, in the app's words where the core's name CLI
        commands (a task with no model yet), without Python's class name (plain_error)."""
        exc = self.runner.exception
        if exc is None:
            return self.runner.error or ""
        return plain_error(exc, "The job stopped on an error that gave no message "
                                "({name}): Details… shows where.")

    def _set_message(self, text: str) -> None:
        """Show ``text``, rich text: what comes from a job or a user is escaped first."""
        # An empty line would leave a gap in the row: hide it instead.
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------ actions
    def _cancel(self) -> None:
        self.runner.cancel()
        self.panel.release_keys(self.cancel)
        self.cancel.setEnabled(False)
        self.state.setText("Cancelling…")

    def show_details(self) -> QMessageBox:
        """The failed job's message and trace in a (non-blocking) popup."""
        box = QMessageBox(QMessageBox.Icon.Critical, f"{self.runner.title} failed",
                          self.error_text(), QMessageBox.StandardButton.Close, self)
        box.setDetailedText(self.runner.details)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Gone once closed: a failed row stays until Clear finished, and each look at
        # its details left a hidden popup under it.
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._popup = box
        return box

    def _download(self) -> None:
        name = self.missing_model
        if name is None or setting("offline"):
            return
        self.panel.run(f"Download {name}", lambda: download_job(name), unit=DOWNLOAD_UNIT)

    def _use_local_folder(self) -> None:
        name = self.missing_model
        if name is None:
            return
        folder = QFileDialog.getExistingDirectory(self, f"Folder holding the model {name}")
        if not folder:
            return
        try:
            registry.register(name, folder)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            QMessageBox.warning(self, "Model folder not usable", str(exc))
            return
        self._set_message(_html(f"{name} now comes from {folder}. "
                                "Retry to run the job again."))


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br>"))
