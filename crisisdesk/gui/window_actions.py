"""The main window's menus and toolbar: import, export, settings, jobs, view and help.

Dialogs and the jobs panel belong to their own modules; this one wires them in. A module
that is not there (yet) leaves its action disabled, with a tooltip saying so, rather than
failing at start-up. Job factories import torch-using code inside the worker thread, so
opening the window never loads a model library; once the first page is painted, the
libraries the jobs need are imported in the background (see :mod:`crisisdesk.gui.job_libraries`).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget
from shiboken6 import isValid

from crisisdesk.gui import job_libraries as libraries
from crisisdesk.gui.action_tips import explain
from crisisdesk.gui.advice import EMBED_ACTION, RETRAIN_ACTION
from crisisdesk.gui.job_actions import JobActions
from crisisdesk.gui.job_libraries import (  # noqa: F401 - app.py and tests use them here
    leave_a_core_to_the_ui,
    preload_job_modules,
)
from crisisdesk.gui.log_folder import show_log_folder

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow


def _shown(dialog: QWidget) -> QWidget:
    """``dialog`` shown, and freed once closed: each open makes a new one, and a closed
    one stayed a hidden child of the window all day (30 Imports: 30 dialogs, ~9,000 Qt
    objects with their thread pools). What a closed dialog started goes on in the jobs
    panel, which tells the dialog through its own methods only (disconnected with it)."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def _open(dialog: QWidget | None) -> QWidget | None:
    """``dialog`` while it is open (None once closed: it is freed on closing)."""
    return dialog if dialog is not None and isValid(dialog) and dialog.isVisible() else None


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class WindowActions(JobActions):
    """Creates the window's actions and runs what they start (the jobs:
    :class:`~crisisdesk.gui.job_actions.JobActions`)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.jobs: Any = None  # the JobsPanel, when its module is there
        self.dock = None
        if available("crisisdesk.gui.jobs_panel"):
            from crisisdesk.gui.jobs_panel import JobsPanel

            self.jobs = JobsPanel()
            self.jobs.job_finished.connect(self._job_finished)
            # A done job's notes are in its row, below where the analyst looks: pointed at.
            self.jobs.job_noted.connect(lambda title, notes: window.statusBar().showMessage(
                f"{title} done, with {'a note' if notes == 1 else f'{notes} notes'}: see "
                "its row in the jobs panel", 15000))
            # Cancel, Retry or Clear finished pressed (or a job ending under the keys):
            # the keys go back to the list, where the labelling goes on.
            self.jobs.keys_released.connect(window.items.setFocus)
            self.dock = window.add_jobs_dock(self.jobs)
        #: Seconds each preloaded module took (None until the preload finished).
        self.preloaded: dict[str, float] | None = None
        self._preload_started = False
        if getattr(window, "preload_libraries", False):
            window.model.loaded.connect(self.preload)  # the first page is on screen
        a = self._action
        self.import_ = a("&Import…", self.open_import, "crisisdesk.gui.dialogs.import_dialog",
                         QKeySequence("Ctrl+I"))
        self.watch = a("&Watch a folder…", self.watch_folder,
                       "crisisdesk.core.importers.watch")
        self.export = a("&Export…", self.open_export, "crisisdesk.gui.dialogs.export_dialog",
                        QKeySequence("Ctrl+E"))
        self.settings = a("&Settings…", self.open_settings,
                          "crisisdesk.gui.dialogs.settings_dialog", QKeySequence("Ctrl+,"))
        self.quit = a("&Quit", window.close, None, QKeySequence.StandardKey.Quit)
        self.undo = a("&Undo label", window.labeller.undo, None, QKeySequence("Ctrl+Z"))
        self.redo = a("&Redo label", window.labeller.redo, None,
                      QKeySequence("Ctrl+Shift+Z"))
        # The help gives both: the list's key filter knew Ctrl+Y, the rest of the window
        # (the queues, the jobs) did not.
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        window.labeller.reverting_refused.connect(self._show_reverting)
        self.find = a("&Search", self._focus_search, None, QKeySequence("Ctrl+F"))
        self.refresh = a("&Refresh", window.refresh, None, QKeySequence("F5"))
        self.caption = a("&Caption images", self.run_caption, "crisisdesk.core.captions.job")
        self.embed = a(EMBED_ACTION, self.run_embed, "crisisdesk.core.embed")
        self.predict = a("&Predict", self.run_predict, "crisisdesk.core.fusion.predict")
        self.retrain = a(RETRAIN_ACTION, self.run_retrain, "crisisdesk.core.retrain")
        # Any time, not only in a retrain's report: an older version back without a retrain.
        self.versions = a("Model &versions…", self.open_versions,
                          "crisisdesk.gui.dialogs.versions_dialog")
        # A retrain's report closed (Esc, Keep) took its charts and its Switch with it.
        self.last_retrain = a("&Last retrain report…", self.open_last_retrain,
                              "crisisdesk.gui.dialogs.retrain_dialog")
        # The jobs panel shows this window's jobs only: the project keeps them all.
        self.history = a("&History…", self.open_history, "crisisdesk.gui.dialogs.job_history")
        self.help = a("&Keyboard shortcuts", window.help.toggle, None,
                      QKeySequence("F1"))
        # The app's log, for whoever looks into a failure (the analyst sends its files).
        self.log_folder = a("Show &log folder…", lambda: show_log_folder(window), None)
        # Tab in the list and the detail panel moves between tasks, so the jobs' Cancel
        # was reached only by Ctrl+F then Shift+Tab twice: this goes there at once.
        self.go_to_jobs = a("&Go to the jobs", self._focus_jobs, "crisisdesk.gui.jobs_panel",
                            QKeySequence("Ctrl+J"))
        self.folder_watch: Any = None  # FolderWatch, with the jobs panel
        self.versions_dialog: QWidget | None = None  # the Model versions window, once open
        self.retrain_report: QWidget | None = None  # the newest retrain report opened
        self.history_dialog: QWidget | None = None  # the Job history window, once open
        if self.jobs is not None:
            from crisisdesk.gui.watch_folder import FolderWatch

            self.folder_watch = FolderWatch(window, self.jobs)
        for needs_jobs in (self.caption, self.embed, self.predict, self.retrain, self.watch):
            if self.jobs is None:
                needs_jobs.setEnabled(False)
                needs_jobs.setToolTip("the jobs panel is not built yet")
        if available("crisisdesk.core.retrain") and not available(
                "crisisdesk.gui.dialogs.retrain_dialog"):
            self.retrain.setEnabled(False)
            self.retrain.setToolTip("the retrain report dialog is not built yet")

        menu = window.menuBar()
        file = menu.addMenu("&File")
        for action in (self.import_, self.watch, self.export, None, self.settings, None,
                       self.quit):
            file.addSeparator() if action is None else file.addAction(action)
        edit = menu.addMenu("&Edit")
        # A menu shows no tooltips unless told to: grey, Undo and Redo said nothing of
        # why (see _show_reverting); only tooltips set on purpose show.
        edit.setToolTipsVisible(True)
        for action in (self.undo, self.redo, None, self.find):
            edit.addSeparator() if action is None else edit.addAction(action)
        view = menu.addMenu("&View")
        view.addAction(self.refresh)
        if self.dock is not None:
            toggle = self.dock.toggleViewAction()
            # The dock's title ("Jobs") has no mnemonic: Alt+V then J reached nothing.
            toggle.setText("&Jobs")
            view.addAction(toggle)
            view.addAction(self.go_to_jobs)
        jobs = menu.addMenu("&Jobs")
        for action in (self.caption, self.embed, self.predict, self.retrain,
                       self.last_retrain, None, self.versions, self.history):
            jobs.addSeparator() if action is None else jobs.addAction(action)
        help_menu = menu.addMenu("&Help")
        for action in (self.help, self.log_folder):
            help_menu.addAction(action)
        toolbar = [self.import_, self.export, self.caption, self.embed, self.predict,
                   self.retrain, self.settings, self.help]
        for action in toolbar:
            explain(action)  # what it does and its key: its text alone said neither
        window.add_toolbar(toolbar)

    def _action(self, text: str, slot: Callable[[], Any], needs: str | None,
                shortcut: QKeySequence | QKeySequence.StandardKey | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        if needs is not None and not available(needs):
            action.setEnabled(False)
            action.setToolTip(f"{text.replace('&', '').rstrip('…')}: not built yet")
        return action

    def preload(self) -> None:
        """Import the jobs' libraries in the background (once; after the first paint)."""
        if self._preload_started:
            return
        self._preload_started = True

        from crisisdesk.gui.dialogs.settings_dialog import setting

        project, encoders = self.window.project, (setting("image_encoder"),
                                                  setting("text_encoder"))

        def say(message: str) -> None:
            self.window.statusBar().showMessage(f"Loading the model libraries: {message}",
                                                15000)

        def done(took: dict[str, float]) -> None:
            self.preloaded = took
            self._check_settings()
            # Then open_clip / transformers where this project will use them (images; a
            # text encoder other than a plain BERT): job_libraries says why not always.
            self.window.background.call(lambda: libraries.preload_project_modules(
                project, *encoders), lambda _took: None, say)

        def failed(message: str) -> None:
            self.preloaded = {}  # not fatal: a job imports what it needs itself
            say(message)
            self._check_settings()

        self.window.background.call(preload_job_modules, done, failed)

    def _check_settings(self) -> None:
        """Say the settings the app cannot use, once, at start (after the preload: the
        device check imports torch, loaded by then)."""
        from crisisdesk.gui.settings_check import say_at_start

        say_at_start(self.window)

    def _show_reverting(self, why: str) -> None:
        """Undo and Redo unavailable, saying why, while a big step is written with an
        undo or redo in the lane (the labeller refuses a second one until it lands)."""
        for action, word in ((self.undo, "Undo label"), (self.redo, "Redo label")):
            action.setEnabled(not why)
            # "" when taken again: no tooltip repeating the item's own text.
            action.setToolTip(f"{word}: wait, {why}…" if why else "")

    def _focus_jobs(self) -> None:
        """Show the jobs panel (closed or not) and give the keys to its newest job."""
        if self.dock is None:
            return
        self.dock.show()
        self.dock.raise_()
        if not self.jobs.focus_job():
            self.window.statusBar().showMessage("No jobs yet", 5000)

    def _focus_search(self) -> None:
        self.window.search.setFocus()
        self.window.search.selectAll()

    # ------------------------------------------------------------------ dialogs
    def open_import(self) -> QWidget:
        from crisisdesk.gui.dialogs.import_dialog import ImportDialog

        dialog = ImportDialog(self.window.project, self.window, jobs=self.jobs)
        dialog.imported.connect(lambda _report: self.window.refresh())
        return _shown(dialog)

    def open_export(self) -> QWidget:
        from crisisdesk.gui.dialogs.export_dialog import ExportDialog

        dialog = ExportDialog(self.window.project, self.window, jobs=self.jobs,
                              tasks=self.window.tasks)
        return _shown(dialog)

    def open_versions(self) -> QWidget:
        """The Model versions window (one per main window: raised if open)."""
        from crisisdesk.gui.dialogs.versions_dialog import VersionsDialog

        dialog = self._open_versions_dialog()
        if dialog is None:
            dialog = VersionsDialog(self.window.project, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # see _shown
            # The version made active has not scored the items imported since it was
            # last active: predict them, as after a re-activation in the retrain report.
            if self.jobs is not None:
                dialog.reactivated.connect(lambda task: self.run_predict([task]))
            dialog.reactivated.connect(lambda _task: self.window.refresh())
            dialog.reactivated.connect(lambda task: self._active_changed([task]))
            self.versions_dialog = dialog
        dialog.show()
        dialog.raise_()
        return dialog

    def _open_versions_dialog(self) -> QWidget | None:
        """The Model versions window when it is open (None once closed: it is freed)."""
        return _open(self.versions_dialog)

    def open_history(self) -> QWidget:
        """The Job history window (one per main window: raised if open)."""
        from crisisdesk.gui.dialogs.job_history import JobHistoryDialog

        dialog = _open(self.history_dialog)
        if dialog is None:
            dialog = JobHistoryDialog(self.window.project, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # see _shown
            dialog.report_wanted.connect(self.open_retrain_report)
            self.history_dialog = dialog
        dialog.show()
        dialog.raise_()
        return dialog

    def open_settings(self) -> QWidget:
        from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog

        return _shown(SettingsDialog(self.window))

    # ------------------------------------------------------------------ jobs' ends
    def _retrained(self, state: str, job: Any) -> None:
        if state != "done" or job is None:
            return
        self._show_retrain_report(job.report, job_id=getattr(job, "job", None))

    def open_last_retrain(self) -> None:
        """The last finished retrain's report again (raised if open), read off the UI
        thread; a message box says why when there is none or it cannot be read."""
        self.open_retrain_report(None)

    def open_retrain_report(self, job: int | None) -> None:
        """The report of the retrain in jobs row ``job`` (None: the last one) again,
        raised if open, as :meth:`open_last_retrain` (the job history's, a done
        Retrain row's Report…)."""
        from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog, saved_report

        open_ = _open(self.retrain_report) if job is None else next(
            (d for d in self.window.findChildren(RetrainDialog)
             if d.isVisible() and d.property("job") == job), None)
        if open_ is not None:
            open_.raise_()
            open_.activateWindow()
            return
        title = "Last retrain report" if job is None else "Retrain report"
        project = self.window.project
        self.window.background.call(
            lambda: saved_report(project, job),
            lambda saved: self._reopen(saved, title), lambda message: self._not_reopened(
                f"The retrain's report could not be read: {message}", title),
            key=f"retrain report {job}")

    def _reopen(self, saved: Any, title: str) -> None:
        if isinstance(saved, str):
            self._not_reopened(saved, title)
        else:
            self._show_retrain_report(saved.report, saved, job_id=saved.job)

    def _not_reopened(self, message: str, title: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, message,
                          QMessageBox.StandardButton.Close, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec: the window goes on painting and its jobs on reporting

    def _show_retrain_report(self, report: Any, saved: Any = None,
                             job_id: int | None = None) -> None:
        from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

        # The switch runs in the jobs panel (its progress and Cancel, and the window waits
        # for it when closing), and the list shows the new predictions once a switch or a
        # re-activation is done, not only when the report closes.
        dialog = RetrainDialog(self.window.project, report, self.window, jobs=self.jobs,
                               saved=saved)
        if saved is None or saved.newest:
            # Only the last retrain's: Last retrain report… raises this one, and an
            # earlier retrain's opened from the history is not the last.
            self.retrain_report = dialog
        dialog.setProperty("job", job_id)  # its jobs row: asked for again, it is raised
        dialog.switched.connect(lambda _tasks: self.window.refresh())
        # The report's id, not the report: a slot holding it would hold it past its close.
        dialog.switched.connect(functools.partial(self._active_changed, but=id(dialog)))
        # A switch re-predicts in its own job; an older version made active again has not
        # scored the items imported since it was last active.
        dialog.reactivated.connect(lambda task: self.run_predict([task]))
        dialog.finished.connect(lambda _result: self.window.refresh())
        _shown(dialog)

    def _active_changed(self, tasks: list[str], but: int | None = None) -> None:
        """Tell the open retrain reports (but the one whose ``id`` is ``but``: it made
        the change) that ``tasks``' active versions changed: a report kept offering a
        Switch that would be refused (or withheld one that would now work)."""
        from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

        for report in self.window.findChildren(RetrainDialog):
            if id(report) != but and report.isVisible():
                for task in tasks:
                    report.active_changed(task)

    def _job_finished(self, title: str, state: str) -> None:
        self.window.refresh()
        if (versions := self._open_versions_dialog()) is not None:
            # A Predict removes older versions' rows, a Retrain adds a version.
            versions.refresh()
        if (history := _open(self.history_dialog)) is not None:
            history.reload()  # type: ignore[attr-defined]  # the job's line, as it ended
        if state == "failed":
            self.window.statusBar().showMessage(f"{title} failed: see the jobs panel", 15000)

    def shutdown(self) -> None:
        """Cancel running jobs (the window is closing)."""
        if self.jobs is not None:
            self.jobs.shutdown()


__all__ = ["WindowActions", "available"]
