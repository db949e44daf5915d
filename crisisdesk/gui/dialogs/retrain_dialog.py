"""The retrain report: per task, the new model version against the active one, before
anything is switched.

Each task's tab (:class:`~crisisdesk.gui.dialogs.retrain_page.TaskPage`) shows the macro
F1 of both versions, the per-class F1 as bars, both confusion matrices as heat grids, and
the recommendation (switch only when the new one is not worse in macro F1). "Switch"
applies the report through the core's ``apply_retrain`` in a worker thread; a task whose
new version is worse switches only when its override box is ticked (what Switch would do,
and what it says once done: :mod:`~crisisdesk.gui.dialogs.retrain_switching`). Each tab
also lists the task's versions so an older one can be made active again. Each term
(macro F1, the holdout, early stopping, the charts) carries a plain-language note: a
tooltip, a "?" link and an accessible description (:mod:`~crisisdesk.gui.dialogs.figure_notes`).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs.figure_notes import esc_closes_tooltips
from crisisdesk.gui.dialogs.job_status import show_job_details
from crisisdesk.gui.dialogs.keep_alive import KeepAlive
from crisisdesk.gui.dialogs.retrain_headline import BAD
from crisisdesk.gui.dialogs.retrain_page import TaskPage
from crisisdesk.gui.dialogs.retrain_switching import Switching, reopened_text
from crisisdesk.gui.dialogs.versions_dialog import ACTIVATING
from crisisdesk.gui.screen_fit import fit_to_screen
from crisisdesk.gui.worker import Background, JobRunner

if TYPE_CHECKING:  # the module imports torch: the dialog loads it only in the worker
    from crisisdesk.core.fusion.versions import VersionSummary
    from crisisdesk.core.retrain import RetrainReport, TaskRetrain
    from crisisdesk.core.retrain_saved import SavedRetrain

#: Enter becomes Switch only this long after the report appears. The report opens by
#: itself when a retrain ends, often while the analyst labels, and Enter there accepts a
#: prediction: the key meant for the list switched the model versions instead (browsers
#: hold back their install buttons for the same reason).
ENTER_ARMS_AFTER_MS = 1500


def apply_job(project: Project, report: RetrainReport, override: list[str],
              keep: list[str]) -> Iterator[Progress]:
    """``apply_retrain`` (activate, then re-predict the switched tasks) as the job run."""
    from crisisdesk.core.retrain import apply_retrain  # torch-using: load in the worker

    return apply_retrain(project, report, override_tasks=tuple(override),
                         keep_tasks=tuple(keep))


class RetrainDialog(Switching, QDialog):
    """The report of a retrain (a ``RetrainReport``), with Switch and Keep; ``saved``:
    the report opened again (Jobs > Last retrain report), which says when it was made and
    what changed since (see :mod:`~crisisdesk.core.retrain_saved`)."""

    switched = Signal(list)  # the tasks whose active version changed (refresh predictions)
    reactivated = Signal(str)  # a task whose version was made active again (to predict)

    def __init__(self, project: Project, report: RetrainReport, parent: QWidget | None = None, *,
                 jobs: object | None = None, saved: SavedRetrain | None = None) -> None:
        super().__init__(parent)
        self.project, self.report, self.jobs = project, report, jobs
        self.saved = saved
        self.runner: JobRunner | None = None
        self._switching: list[str] = []  # the tasks of the switch running
        self.background = Background(self, max_threads=1)
        self.keep_alive = KeepAlive(self)  # a re-activation is told after a close (done)
        self.setWindowTitle("Retrain report")
        # Wide enough for the confusion matrices of a five-class task side by side.
        self.resize(880, 720)
        fit_to_screen(self)  # 720 high was past the edge of a 720-pixel screen
        self.tabs = QTabWidget()
        self.pages: dict[str, TaskPage] = {}
        self._page_of: dict[QObject, TaskPage] = {}  # each tab's scroll viewport: its page
        for entry in retrain_entries(report):
            page = TaskPage(self, entry)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            self._page_of[scroll.viewport()] = page
            scroll.viewport().installEventFilter(self)
            self.pages[entry.task] = page
            if saved is not None and entry.task in saved.leave:
                page.leave_as_is(saved.leave[entry.task])
            self.tabs.addTab(scroll, entry.task)
            self._mark_tab(entry.task)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.switch = QPushButton("Switch")
        self.armed = False  # whether Enter may press Switch yet (ENTER_ARMS_AFTER_MS)
        self.switch.clicked.connect(self.apply)
        self.keep = QPushButton("&Keep the active version")
        self.keep.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.keep)
        buttons.addWidget(self.switch)
        layout = QVBoxLayout(self)
        if saved is not None:
            self.made = QLabel(reopened_text(saved))
            self.made.setTextFormat(Qt.TextFormat.PlainText)  # names are not markup
            self.made.setWordWrap(True)
            layout.addWidget(self.made)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        for page in self.pages.values():
            page.override.toggled.connect(self._sync_buttons)
        for button in (self.switch, self.keep):
            # Until armed no button is Enter's: else the dialog made the first one it
            # found the default as it appeared.
            button.setAutoDefault(False)
        self._sync_buttons()
        self.refresh_versions()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        page = self._page_of.get(watched)
        if page is not None and isinstance(event, QResizeEvent):
            page.fit(event.size().width())  # the room a tab's scroll area gives its page
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        # The charts' and boxes' tooltips are their notes: Esc closes one, not the
        # report (closed, it cannot be opened again).
        esc_closes_tooltips(self, True)
        if not self.armed:
            QTimer.singleShot(ENTER_ARMS_AFTER_MS, self._arm)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        esc_closes_tooltips(self, False)
        super().hideEvent(event)

    def _arm(self) -> None:
        self.armed = True
        for button in (self.switch, self.keep):
            button.setAutoDefault(True)
        self._sync_buttons()

    # ------------------------------------------------------------------ versions
    def refresh_versions(self) -> None:
        """Load each task's versions off the GUI thread."""
        project, tasks = self.project, list(self.pages)

        def load() -> dict[str, list[VersionSummary]]:
            from crisisdesk.core.fusion.versions import summarise_versions

            with project.open_store() as store:
                return {task: summarise_versions(store, task) for task in tasks}

        self.background.call(load, self._show_versions, self._show_error, key="versions")

    def _show_versions(self, by_task: dict[str, list[VersionSummary]]) -> None:
        for task, rows in by_task.items():
            self.pages[task].show_versions(rows)
        self.versions_loaded = True

    def _show_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:{BAD}'>{html.escape(message, quote=False)}"
                            "</span>")

    def reactivate(self, task: str, version: int) -> None:
        """Make an older (or any) version of ``task`` the active one; ``reactivated``
        then says so (the window predicts what that version has not scored). A version
        whose checkpoint is gone stays inactive and the status line says why."""
        project = self.project

        def activate() -> int:
            from crisisdesk.core.retrain import reactivate_version  # torch: in the worker

            with project.open_store() as store:
                reactivate_version(store, version)
            return version

        def done(_: int) -> None:
            self.status.setText(f"{task}: version {version} is active again.")
            self._sync_reactivate()
            self.switched.emit([task])
            self.reactivated.emit(task)
            if not self.keep_alive.closed:
                self.active_changed(task)

        def failed(message: str) -> None:
            self._show_error(message)
            self._sync_reactivate()

        self.keep_alive.call(self.background, activate, done, failed,
                             failed=f"{task}: version {version} was not made active")
        self._sync_reactivate()

    def _sync_reactivate(self) -> None:
        """Grey every "Make the selected version active" while an activation runs: a
        second click ran a second one (and a second prediction of the task)."""
        running = self.keep_alive.running
        for page in self.pages.values():
            page.reactivate.setEnabled(not running)
            page.reactivate.setToolTip(ACTIVATING if running else "")

    # ------------------------------------------------------------------ switch
    def apply(self) -> JobRunner | None:
        """Switch the tasks recommended or overridden, through a job."""
        # Pressed again: the last failure's traceback goes with its words.
        show_job_details(self.status, None)
        tasks = self.tasks_to_switch()
        if not tasks:
            self.status.setText(html.escape(self._nothing_to_switch(), quote=False))
            return None
        override = [t for t, p in self.pages.items()
                    if p.override.isChecked() and not p.entry.recommend_switch]
        keep = [t for t in self.pages if t not in tasks]
        project, report = self.project, self.report

        def make_job() -> Iterator[Progress]:
            return apply_job(project, report, override, keep)

        title = f"Switch to the new versions ({', '.join(tasks)})"
        if self.jobs is not None:
            # It counts the predictions it writes (one per item and task): not "items".
            self.runner = self.jobs.run(  # type: ignore[attr-defined]
                title, make_job, unit="predictions")
        else:
            self.runner = JobRunner(title, make_job)  # no parent: may outlive the dialog
            self.runner.start()
        # A bound method, not a lambda: the report closed while the switch runs on in the
        # jobs panel is freed, and Qt disconnects it with it.
        self._switching = tasks
        self.runner.finished.connect(self._switch_ended)
        self.switch.setEnabled(False)
        self.keep.setEnabled(False)
        self.status.setText("Switching…")
        return self.runner

    def _switch_ended(self, state: str, value: object) -> None:
        self._applied(state, value, self._switching)

    def done(self, result: int) -> None:
        """Close; a re-activation still running is told first (see KeepAlive): shut
        down here, its end was dropped, and the window never predicted the items the
        version made active had not scored."""
        if not self.keep_alive.closing():
            self.background.shutdown()
        super().done(result)


def saved_report(project: Project, job: int | None = None) -> SavedRetrain | str:
    """The report of the retrain in jobs row ``job`` (None: the last one) as kept with
    ``project``, or why it cannot be opened again (said as it is: no retrain yet, or a
    record that cannot be read). Run in a worker: it reads the store and loads the
    core's torch-using modules."""
    from crisisdesk.core.retrain_saved import SavedReportError, saved_retrain

    try:
        return saved_retrain(project, job)
    except SavedReportError as exc:
        return str(exc)


def retrain_entries(report: RetrainReport) -> list[TaskRetrain]:
    """The report's per-task comparisons, in task order."""
    return list(report.tasks.values())
