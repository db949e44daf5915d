"""The import dialog: pick sources and a format, map columns, run the import as a job,
then show the import report with its problems.

The work is the core's :class:`~crisisdesk.core.importers.ImportJob`, run through a
:class:`~crisisdesk.gui.worker.JobRunner` (or the window's jobs panel when given), so
the dialog stays responsive and Cancel stops after the batch in hand.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.importers import FORMATS, ImportJob, ImportOptions, ImportReport
from crisisdesk.core.importers.naming import given_name_problem
from crisisdesk.core.importers.tabular import DEFAULT_COLUMNS, FIELDS
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import display_name
from crisisdesk.gui.dialogs.import_columns import (
    mappable_columns,
    read_columns,  # noqa: F401 (imported from here by tests)
    tabular_source,
)
from crisisdesk.gui.dialogs.import_problems import problems_tree, show_problems
from crisisdesk.gui.dialogs.job_status import show_job_details
from crisisdesk.gui.empty_hint import EmptyHint
from crisisdesk.gui.worker import Background, JobRunner

FORMAT_NAMES = {"auto": "Detect from the files", "folder": "Folder of posts",
                "csv": "CSV / TSV table", "jsonl": "JSON Lines", "crisismmd": "CrisisMMD TSVs",
                "zip": "Zip archive"}
DEFAULT_COLUMN = "(automatic)"
# Each file detect_format reads: a CrisisMMD split Excel saved as "Unicode Text" (.txt,
# see crisismmd.FILE_NAME) showed under "All files" alone. Collector files, told by
# content, are JSON (Lines) files.
FILE_FILTER = ("Posts (*.csv *.tsv *.jsonl *.ndjson *.json *.zip *task_*_text_img*.txt);;"
               "All files (*)")
class ImportDialog(QDialog):
    """Import posts into ``project``; ``imported`` carries the report when it ends."""

    imported = Signal(object)  # ImportReport

    def __init__(self, project: Project, parent: QWidget | None = None, *,
                 jobs: object | None = None) -> None:
        super().__init__(parent)
        self.project, self.jobs = project, jobs  # jobs: a JobsPanel to list the import in
        self.runner: JobRunner | None = None
        self.job: ImportJob | None = None
        self.report: ImportReport | None = None
        self.background = Background(self, max_threads=1)
        self.setWindowTitle("Import posts")
        # Sized to the font too: at 1.5 times it, 620 pixels left the problems' words a
        # column narrower than a source's name.
        self.setMinimumWidth(max(620, 100 * self.fontMetrics().averageCharWidth()))

        self.sources = QListWidget()
        self.sources.setMaximumHeight(90)
        # Empty, the list was a blank box that said nothing of what goes in it.
        EmptyHint(self.sources, "No files yet: Add files… (CSV, TSV, JSON Lines, zip) "
                  "or Add folder… (of posts)")
        add_files = QPushButton("Add &files…")
        add_folder = QPushButton("Add fol&der…")
        remove = QPushButton("&Remove")
        add_files.clicked.connect(self._pick_files)
        add_folder.clicked.connect(self._pick_folder)
        remove.clicked.connect(self._remove_selected)
        side = QVBoxLayout()
        for button in (add_files, add_folder, remove):
            side.addWidget(button)
        side.addStretch(1)
        sources = QHBoxLayout()
        sources.addWidget(self.sources, 1)
        sources.addLayout(side)

        self.format = QComboBox()
        for fmt in (*FORMATS, "zip"):
            self.format.addItem(FORMAT_NAMES.get(fmt, fmt), fmt)
        self.format.currentIndexChanged.connect(self._update_mapping)
        self.source_name = QLineEdit()
        self.source_name.setPlaceholderText("from the file or folder name")
        self.event = QLineEdit()
        self.event.setPlaceholderText("e.g. hurricane_irma (when the files do not say)")
        self.platform = QLineEdit()
        self.platform.setPlaceholderText("e.g. twitter")
        self.images_root = QLineEdit()
        # "next to the table" read as a spreadsheet's neighbour: the posts may be JSON
        # Lines or a folder, and CrisisMMD's TSVs have no default folder at all.
        self.images_root.setPlaceholderText("the posts file's folder")
        self.images_root.setToolTip(
            "Where the image paths written in the posts are looked for. Empty: the folder "
            "of the posts file\n(for a folder of posts, that folder). A CrisisMMD import "
            "needs it: the CrisisMMD folder that holds data_image.")
        # Typing a download's deep path was the only way; the sources have Add buttons.
        choose_images = QPushButton("C&hoose…")
        choose_images.setToolTip("Choose the images folder")
        choose_images.clicked.connect(self._pick_images_root)
        images = QHBoxLayout()
        images.addWidget(self.images_root, 1)
        images.addWidget(choose_images)
        form = QFormLayout()
        form.addRow("&Sources", sources)
        form.addRow("F&ormat", self.format)
        form.addRow("Source &name", self.source_name)
        form.addRow("&Event", self.event)
        form.addRow("&Platform", self.platform)
        form.addRow("Ima&ges folder", images)
        # A row holding a layout gets a label without a buddy: a screen reader named the
        # sources list (and the images folder's box) nothing.
        form.labelForField(sources).setBuddy(self.sources)
        form.labelForField(images).setBuddy(self.images_root)

        self.mapping_box = QGroupBox("Col&umns (which column holds each field)")
        grid = QGridLayout(self.mapping_box)
        self.columns: dict[str, QComboBox] = {}
        half = (len(FIELDS) + 1) // 2  # two columns of fields keep the dialog short
        for i, name in enumerate(FIELDS):
            combo = QComboBox()
            combo.addItem(DEFAULT_COLUMN, "")
            self.columns[name] = combo
            row, col = i % half, 2 * (i // half)
            label = QLabel(display_name(name))
            # The buddy names the box to a screen reader, which else heard the group's
            # title for each of the twelve.
            label.setBuddy(combo)
            grid.addWidget(label, row, col)
            grid.addWidget(combo, row, col + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.mapping_box.setVisible(False)
        self._mapping_on = False
        #: The column each field is read from by itself, by its name (read from the
        #: table's header; None until it is read).
        self._auto: dict[str, str | None] | None = None
        self._hint = ""  # the required columns' hint shown in the status, if any
        for combo in self.columns.values():
            combo.currentIndexChanged.connect(lambda _i: self._say_required())

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.problems = problems_tree()

        self.start = QPushButton("&Import")
        self.start.setDefault(True)
        self.start.clicked.connect(self.start_import)
        self.cancel = QPushButton("Cancel impor&t")
        self.cancel.setVisible(False)
        self.cancel.clicked.connect(self._cancel)
        self.close_button = QPushButton("&Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start, self.cancel, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.mapping_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.problems, 1)
        # The room no problem list takes (none yet, or the Columns box hidden for a
        # collector's file): else given to the sources' row, its list adrift in it.
        layout.addStretch(0)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ sources
    def add_source(self, path: Path | str) -> None:
        """Add a file or folder to import."""
        self.sources.addItem(str(path))
        self._update_mapping()

    def source_paths(self) -> list[Path]:
        return [Path(self.sources.item(i).text()) for i in range(self.sources.count())]

    def _pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Files to import", "", FILE_FILTER)
        for file in files:
            self.add_source(file)

    def _pick_folder(self) -> None:
        if folder := QFileDialog.getExistingDirectory(self, "Folder to import"):
            self.add_source(folder)

    def _pick_images_root(self) -> None:
        if folder := QFileDialog.getExistingDirectory(self, "Images folder",
                                                      self.images_root.text().strip()):
            self.images_root.setText(folder)

    def _remove_selected(self) -> None:
        for item in self.sources.selectedItems():
            self.sources.takeItem(self.sources.row(item))
        self._update_mapping()

    # ------------------------------------------------------------------ column mapping
    def _update_mapping(self) -> None:
        """Offer the column mapping when the first source is a table; read its header."""
        paths, fmt = self.source_paths(), self.format.currentData()
        table = next((p for p in paths if tabular_source(p, fmt)), None)
        self._mapping_on = table is not None
        self._auto = None
        self.mapping_box.setVisible(self._mapping_on)
        if table is None:
            return
        self.background.call(lambda: mappable_columns(table, fmt), self.set_columns,
                             lambda message: self.status.setText(
                                 f"{table}: cannot read its columns ({message})"),
                             key="columns")

    def set_columns(self, columns: list[str] | None) -> None:
        """Fill the mapping boxes with a table's columns; the first entry says which
        column the importer picks by itself (as the core does: by known names). None:
        the file is no table after all (a collector's JSON), nothing to map."""
        if columns is None:
            self._mapping_on = False
            self.mapping_box.setVisible(False)
            return self._say_required()
        by_lower = {c.strip().lower(): c for c in columns}
        self._auto = {}
        for name, combo in self.columns.items():
            chosen = combo.currentData()
            combo.clear()
            auto = next((by_lower[c] for c in DEFAULT_COLUMNS[name] if c in by_lower), None)
            self._auto[name] = auto
            combo.addItem(f"{DEFAULT_COLUMN}: {auto}" if auto else "(none)", "")
            for column in columns:
                combo.addItem(column, column)
            index = combo.findData(chosen)
            combo.setCurrentIndex(max(index, 0))
        self._say_required()

    def unpicked_required(self) -> list[str]:
        """The required fields no column of the table will be read as ("id"; "text",
        standing for text or image): none has one of their names and none is picked.
        Empty while the header is not read (the import then says it)."""
        if not self._mapping_on or self._auto is None:
            return []
        auto = self._auto

        def found(field: str) -> bool:
            return bool(auto.get(field) or self.columns[field].currentData())

        return [field for field, ok in (("id", found("id")),
                                        ("text", found("text") or found("image"))) if not ok]

    def _required_hint(self) -> str:
        """What to pick under Columns for each required field not found, in the app's
        words: the import's own error named the command line's --map, after the run."""
        what = {"id": "each post's id", "text": "each post's text (or its image)"}
        return " ".join(
            f"Pick the column holding {what[field]} under Columns: none is named "
            f"{', '.join(DEFAULT_COLUMNS[field])}." for field in self.unpicked_required())

    def _say_required(self) -> None:
        """Show (or take back) the required columns' hint, leaving other messages."""
        hint = self._required_hint()
        if hint or self.status.text() == self._hint:
            self.status.setText(hint)
        self._hint = hint

    def mapping(self) -> dict[str, str]:
        """Fields mapped to a column by the analyst (the rest use the default names)."""
        if not self._mapping_on:
            return {}
        return {name: combo.currentData() for name, combo in self.columns.items()
                if combo.currentData()}

    def options(self) -> ImportOptions:
        """The import options shown."""
        root = self.images_root.text().strip()
        return ImportOptions(
            format=self.format.currentData(),
            images_root=Path(root) if root else None,
            event=self.event.text().strip() or None,
            source=self.source_name.text().strip() or None,
            platform=self.platform.text().strip() or None,
            mapping=self.mapping(),
        )

    # ------------------------------------------------------------------ running
    def start_import(self) -> JobRunner | None:
        """Run the import as a job; returns its runner (None when there is nothing to do)."""
        show_job_details(self.status, None)  # pressed again: the old traceback goes
        paths = self.source_paths()
        if not paths:
            self.status.setText("Add a file or a folder to import first.")
            return None
        name = self.source_name.text().strip()
        if why := given_name_problem(name):  # it would go into every item id
            # A tag, so the label reads it as rich text: the escaped "<source>" shows.
            self.status.setText("<b style='color:#c62828'>Source name</b> " + html.escape(
                f"{name!r} {why}; give another name, or none to name it from the file.",
                quote=False))
            self.source_name.setFocus()
            return None
        if missing := self.unpicked_required():
            # Else the job ran to one error row: "required column 'id' is missing ...
            # map one with --map id=COLUMN", a command-line option, in the report.
            self.status.setText("<b style='color:#c62828'>Not imported yet.</b> "
                                + html.escape(self._required_hint(), quote=False))
            self._hint = ""  # a refusal, not the hint: stays till Import is pressed again
            self.columns[missing[0]].setFocus()
            return None
        options, project = self.options(), self.project
        self.job = ImportJob(project, paths, options)
        first = [self.job]

        def make_job() -> Iterator[Progress]:
            # An ImportJob keeps its report: Retry (from the jobs panel) runs a new one,
            # or its report would hold both runs' sources, counts and problems.
            job = first.pop() if first else ImportJob(project, paths, options)
            return job.run()

        title = f"Import {paths[0].name}" + (f" and {len(paths) - 1} more"
                                             if len(paths) > 1 else "")
        if self.jobs is not None:
            self.runner = self.jobs.run(title, make_job, unit="posts")  # type: ignore[attr-defined]
        else:
            # No Qt parent: the runner must outlive the dialog while its thread runs.
            self.runner = JobRunner(title, make_job)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        if self.runner.state == "pending":
            self.runner.start()
        self.start.setEnabled(False)
        self.cancel.setVisible(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.problems.setVisible(False)
        self.status.setText("Importing…")
        return self.runner

    def _cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.status.setText("Cancelling after the batch in hand…")

    def _on_progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(min(progress.done, progress.total))
        self.status.setText(progress.message or f"{progress.done:,} posts read")

    def _on_finished(self, state: str, value: object) -> None:
        self.cancel.setVisible(False)
        self.start.setEnabled(True)
        self.progress.setVisible(False)
        report = self.job.report if self.job else None
        self.report = report
        show_job_details(self.status, self.runner)  # a failure's traceback, for an engineer
        if state == "failed":
            self.status.setText("<b style='color:#c62828'>Import failed:</b> "
                                + html.escape(str(value), quote=False))
        elif report is not None:
            self.show_report(report, self.job.report_path if self.job else None,
                             self.job.report_not_saved if self.job else "")
        if report is not None and state != "failed":
            self.imported.emit(report)

    def show_report(self, report: ImportReport, path: Path | None = None,
                    not_saved: str = "") -> None:
        """The report's counts, then one row per problem (file, row, message);
        ``not_saved``: why the report file could not be written (a full disk)."""
        head = report.summary(max_problems=0).splitlines()[:2]  # the counts; problems below
        if path is not None:
            head.append(f"Report saved in {path}")
        elif not_saved:
            head.append(not_saved[:1].upper() + not_saved[1:])
        self.status.setText("<br>".join(html.escape(line) for line in head))
        show_problems(self.problems, report.problems)

    def done(self, result: int) -> None:
        # Closing while the import runs cancels it; the batch in hand is still committed.
        if self.runner is not None and self.runner.is_running():
            self.runner.cancel()
        self.background.shutdown()
        super().done(result)
