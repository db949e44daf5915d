"""The export dialog: format, task, only corrected, hashed authors, a CSV for a
spreadsheet, where to write.

The file is written by the core :class:`~crisisdesk.core.exporters.Exporter` (temp file
+ rename), in a worker thread as a tracked job (``export`` in the jobs table). The dialog
shows how many items are written, a chunk at a time, and its Cancel (or the jobs panel's)
stops the export at the next chunk, leaving no file.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.exporters import EXPORT_FORMATS, Exporter
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import builtin_schemes
from crisisdesk.core.words import plural
from crisisdesk.gui.dialogs.job_status import show_job_details
from crisisdesk.gui.screen_fit import fit_to_screen
from crisisdesk.gui.worker import JobRunner

FORMAT_NAMES = {"csv": "CSV (one row per item)", "jsonl": "JSON Lines (one object per item)",
                "crisismmd": "CrisisMMD TSV (labelled items, one file per task)"}
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "crisismmd": ".tsv"}
ALL_TASKS = ""


class ExportJob:
    """An export as a job, its progress in items (the exporter's, a chunk at a time)."""

    kind = "export"

    def __init__(self, project: Project, out: Path, fmt: str, tasks: list[str] | None,
                 only_corrected: bool, hash_authors: bool, for_spreadsheet: bool = False
                 ) -> None:
        self.project, self.out, self.fmt = project, out, fmt
        self.tasks, self.only_corrected, self.hash_authors = tasks, only_corrected, hash_authors
        self.for_spreadsheet = for_spreadsheet
        self.files: list[Path] = []
        # Whether each file the export writes was there before (the task files of a
        # CrisisMMD export into a folder; not the folder, which may be empty): a Cancel
        # says none was replaced, or written. Looked at in the worker thread, in _body.
        self.existed: list[bool] = []
        params = {"out": str(out), "format": fmt, "tasks": tasks,
                  "only_corrected": only_corrected, "hash_authors": hash_authors,
                  "for_spreadsheet": for_spreadsheet}
        self._run = tracked(project, self.kind, params, self._body(),
                            result=lambda: {"files": [str(f) for f in self.files]})

    @property
    def result(self) -> list[Path]:
        """The files written (the JobRunner's "done" result)."""
        return self.files

    def __iter__(self) -> Iterator[Progress]:
        return self._run

    def close(self) -> None:
        self._run.close()

    def _body(self) -> Iterator[Progress]:
        with self.project.open_store() as store:  # opened in the worker thread
            exporter = Exporter(store, tasks=self.tasks, only_corrected=self.only_corrected,
                                hash_authors=self.hash_authors,
                                for_spreadsheet=self.for_spreadsheet)
            self.existed = [path.exists() for path in exporter.targets(self.out, self.fmt)]
            # Closed here, on a Cancel, before the store: left to be freed, the writing
            # (and its temp file) lasted as long as anything still referenced it.
            with closing(exporter.writing(self.out, self.fmt)) as writing:
                for progress in writing:
                    # Known before the last step is handed on: a Cancel clicked then lands
                    # after the files are in place, and must not be reported as "no file".
                    self.files = exporter.files
                    yield progress


class ExportDialog(QDialog):
    """Export a project's labels (and latest predictions); ``exported`` lists the files."""

    exported = Signal(list)  # [Path]

    def __init__(self, project: Project, parent: QWidget | None = None, *,
                 jobs: object | None = None, tasks: Sequence[str] | None = None) -> None:
        """``tasks``: the project's tasks, its own included (the window knows them; the
        dialog reads no store on the GUI thread); None: the built-in ones."""
        super().__init__(parent)
        self.project, self.jobs = project, jobs  # jobs: a JobsPanel to list the export in
        self.runner: JobRunner | None = None
        self._writing = Path()  # the file of the export running (its progress names it)
        self.job: ExportJob | None = None  # the export run last (made in its worker)
        self.files: list[Path] = []
        self.setWindowTitle("Export labels")
        self.format = QComboBox()
        for fmt in EXPORT_FORMATS:
            self.format.addItem(FORMAT_NAMES.get(fmt, fmt), fmt)
        self.task = QComboBox()
        self.task.addItem("All tasks", ALL_TASKS)
        for task in tasks or builtin_schemes():
            self.task.addItem(task, task)
        self.only_corrected = QCheckBox("&Only items with a label given by a person")
        # What the analyst gets, not how ("Hash author handles (salted)"): the exact
        # words are in the tooltip.
        self.hash_authors = QCheckBox("Replace &author names with codes, leave out post links")
        self.hash_authors.setToolTip(
            "Each author becomes a code (anon-…): the same author, the same code, in every "
            "export of this project,\nand the name cannot be worked back from it (a salted "
            "hash of the author handle).\nA post's URL names its poster (x.com/<handle>/"
            "status/...): kept, it would undo the hash. Post ids stay, for re-import.")
        self.for_spreadsheet = QCheckBox("For a s&preadsheet (Excel, LibreOffice)")
        self.for_spreadsheet.setToolTip(
            "Writes a UTF-8 byte order mark, so that accents, emoji and Arabic show right,\n"
            "and puts a ' before text starting with = + - @, a tab or a carriage return,\n"
            "so that no tweet runs as a formula. The ' stays in the text: to re-import,\n"
            "export a plain CSV or JSON Lines.")
        self.out = QLineEdit()
        # A path typed by hand is the analyst's: a change of format or task keeps it.
        self.out.textEdited.connect(self._typed)
        # The whole path, wherever the field is scrolled to.
        self.out.textChanged.connect(self.out.setToolTip)
        browse = QPushButton("Choo&se…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.out, 1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow("&Format", self.format)
        form.addRow("&Task", self.task)
        form.addRow("", self.only_corrected)
        form.addRow("", self.hash_authors)
        form.addRow("", self.for_spreadsheet)
        form.addRow("&Write to", where)
        # A row holding a layout gets a label without a buddy: a screen reader named the
        # path box nothing.
        form.labelForField(where).setBuddy(self.out)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.export_button = QPushButton("&Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        # Stops the export at its next chunk of rows: no file is written or replaced.
        self.cancel_button = QPushButton("Cancel e&xport")
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.setVisible(False)
        close = QPushButton("&Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.format.currentIndexChanged.connect(self._suggest_path)
        self.format.currentIndexChanged.connect(self._offer_spreadsheet)
        self.task.currentIndexChanged.connect(self._suggest_path)
        self._suggest_path()
        self._offer_spreadsheet()
        # A width, not a minimum: setMinimumWidth overrode the layout's own minimum, so at
        # a large font the dialog opened narrower than its check boxes, their text cut.
        # Wide enough for the suggested path where the screen allows (its folder was cut).
        path_room = (self.out.fontMetrics().horizontalAdvance(self.out.text()) + 16
                     - self.out.sizeHint().width())
        self.resize(max(520, self.sizeHint().width() + max(path_room, 0)),
                    self.sizeHint().height())
        fit_to_screen(self)

    def _writes_folder(self) -> bool:
        # CrisisMMD export of several tasks writes one file per task into a folder.
        return self.format.currentData() == "crisismmd" and not self.task.currentData()

    def _offer_spreadsheet(self) -> None:
        """The spreadsheet option is for CSV only; another format clears it."""
        is_csv = self.format.currentData() == "csv"
        self.for_spreadsheet.setEnabled(is_csv)
        if not is_csv:
            self.for_spreadsheet.setChecked(False)

    def _suggest_path(self) -> None:
        """Propose a path in the project's exports/ folder until the analyst picks one."""
        current = self.out.text().strip()
        if current and not getattr(self, "_suggested", False):
            return
        base = self.project.root / "exports"
        task = self.task.currentData() or "labels"
        fmt = self.format.currentData()
        name = f"crisismmd_{task}" if self._writes_folder() else f"{task}{SUFFIX[fmt]}"
        self._show_path(str(base / name))
        self._suggested = True

    def _show_path(self, path: str) -> None:
        """Put ``path`` in the field, its start in view: set, the field scrolled to its
        end, and a long path showed its file name and hid which folder it goes to."""
        self.out.setText(path)
        self.out.setCursorPosition(0)

    def _typed(self, _text: str) -> None:
        self._suggested = False

    def _browse(self) -> None:
        if self._writes_folder():
            chosen = QFileDialog.getExistingDirectory(self, "Folder for the export files")
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.out.text())
        if chosen:
            self._show_path(chosen)
            self._suggested = False

    def start_export(self) -> JobRunner | None:
        """Write the export in a worker thread; returns the job's runner."""
        # Pressed again: the last failure's traceback goes with its words.
        show_job_details(self.status, None)
        text = self.out.text().strip()
        if not text:
            self.status.setText("Choose where to write the export.")
            return None
        out = Path(text).expanduser()
        fmt, task = self.format.currentData(), self.task.currentData()
        project = self.project
        only, hashed = self.only_corrected.isChecked(), self.hash_authors.isChecked()
        sheet = self.for_spreadsheet.isChecked()
        # Made in the worker: a Cancel before that must not find the export before's.
        self.job = None

        def make_job() -> ExportJob:
            self.job = ExportJob(project, out, fmt, [task] if task else None, only, hashed,
                                 sheet)
            return self.job

        title = f"Export {out.name}"
        if self.jobs is not None:
            self.runner = self.jobs.run(title, make_job, unit="items")  # type: ignore[attr-defined]
        else:
            self.runner = JobRunner(title, make_job)  # no parent: may outlive the dialog
            self.runner.start()
        # Bound methods, not lambdas: closed while the export runs on in the jobs panel,
        # the dialog is freed and Qt disconnects them with it (a lambda wrote to its
        # deleted labels).
        self._writing = out
        self.runner.finished.connect(self._on_finished)
        self.runner.progress.connect(self._export_progressed)
        self.export_button.setEnabled(False)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Writing {out}…")
        return self.runner

    def _export_progressed(self, progress: Progress) -> None:
        self._on_progress(self._writing, progress)

    def _on_progress(self, out: Path, progress: Progress) -> None:
        """How far the export is: 100,000 items take seconds. The file's name only: its
        path is in the field above, and the count after it wrapped to a second line."""
        if progress.total and progress.done < progress.total:
            self.status.setText(f"Writing {out.name}: {progress.done:,} of "
                                f"{plural(progress.total, 'item')}…")

    def _cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling the export…")

    def _on_finished(self, state: str, value: object) -> None:
        self.export_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        show_job_details(self.status, self.runner)  # a failure's traceback, for an engineer
        if state == "cancelled" and self.job is not None and self.job.files:
            # The file is written and renamed in one step: a Cancel clicked during it
            # lands after the file is in place, and must not be reported as "no file".
            state, value = "done", self.job.files
        if state == "done":
            self.files = list(value or [])  # type: ignore[call-overload]
            self.status.setText("Wrote " + ", ".join(str(f) for f in self.files))
            self.exported.emit(self.files)
        elif state == "failed":
            self.status.setText("<b style='color:#c62828'>Export failed:</b> "
                                + html.escape(str(value), quote=False))
        else:
            # No job: cancelled before it started, so no file was looked at or written.
            existed = self.job.existed if self.job is not None else []
            done = "replaced" if existed and all(existed) else \
                "written or replaced" if any(existed) else "written"
            self.status.setText(f"Export cancelled; no file was {done}.")
