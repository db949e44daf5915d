"""The main window's menus and toolbar: import, export, settings, jobs, view and help.

Dialogs and the jobs panel belong to their own modules; this one wires them in. A module
that is not there (yet) leaves its action disabled, with a tooltip saying so, rather than
failing at start-up. Job factories import torch-using code inside the worker thread, so
opening the window never loads a model library.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from crisisdesk.core.progress import Progress

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class WindowActions:
    """Creates the window's actions and runs what they start."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.jobs: Any = None  # the JobsPanel, when its module is there
        self.dock = None
        if available("crisisdesk.gui.jobs_panel"):
            from crisisdesk.gui.jobs_panel import JobsPanel

            self.jobs = JobsPanel()
            self.jobs.job_finished.connect(self._job_finished)
            self.dock = window.add_jobs_dock(self.jobs)
        self._retrain_holder: dict[str, Any] = {}
        a = self._action
        self.import_ = a("&Import…", self.open_import, "crisisdesk.gui.dialogs.import_dialog",
                         QKeySequence("Ctrl+I"))
        self.export = a("&Export…", self.open_export, "crisisdesk.gui.dialogs.export_dialog",
                        QKeySequence("Ctrl+E"))
        self.settings = a("&Settings…", self.open_settings,
                          "crisisdesk.gui.dialogs.settings_dialog", QKeySequence("Ctrl+,"))
        self.quit = a("&Quit", window.close, None, QKeySequence.StandardKey.Quit)
        self.undo = a("&Undo label", window.labeller.undo, None, QKeySequence("Ctrl+Z"))
        self.redo = a("&Redo label", window.labeller.redo, None,
                      QKeySequence("Ctrl+Shift+Z"))
        self.find = a("&Search", self._focus_search, None, QKeySequence("Ctrl+F"))
        self.refresh = a("&Refresh", window.refresh, None, QKeySequence("F5"))
        self.embed = a("&Embed images and texts", self.run_embed, "crisisdesk.core.embed")
        self.predict = a("&Predict", self.run_predict, "crisisdesk.core.fusion.predict")
        self.retrain = a("&Retrain…", self.run_retrain, "crisisdesk.core.retrain")
        self.help = a("&Keyboard shortcuts", window.help.toggle, None,
                      QKeySequence("F1"))
        for needs_jobs in (self.embed, self.predict, self.retrain):
            if self.jobs is None:
                needs_jobs.setEnabled(False)
                needs_jobs.setToolTip("the jobs panel is not built yet")
        if available("crisisdesk.core.retrain") and not available(
                "crisisdesk.gui.dialogs.retrain_dialog"):
            self.retrain.setEnabled(False)
            self.retrain.setToolTip("the retrain report dialog is not built yet")

        menu = window.menuBar()
        file = menu.addMenu("&File")
        for action in (self.import_, self.export, None, self.settings, None, self.quit):
            file.addSeparator() if action is None else file.addAction(action)
        edit = menu.addMenu("&Edit")
        for action in (self.undo, self.redo, None, self.find):
            edit.addSeparator() if action is None else edit.addAction(action)
        view = menu.addMenu("&View")
        view.addAction(self.refresh)
        if self.dock is not None:
            view.addAction(self.dock.toggleViewAction())
        jobs = menu.addMenu("&Jobs")
        for action in (self.embed, self.predict, self.retrain):
            jobs.addAction(action)
        menu.addMenu("&Help").addAction(self.help)
        window.add_toolbar([self.import_, self.export, self.embed, self.predict,
                            self.retrain, self.settings, self.help])

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

    def _focus_search(self) -> None:
        self.window.search.setFocus()
        self.window.search.selectAll()

    # ------------------------------------------------------------------ dialogs
    def open_import(self) -> QWidget:
        from crisisdesk.gui.dialogs.import_dialog import ImportDialog

        dialog = ImportDialog(self.window.project, self.window, jobs=self.jobs)
        dialog.imported.connect(lambda _report: self.window.refresh())
        dialog.show()
        return dialog

    def open_export(self) -> QWidget:
        from crisisdesk.gui.dialogs.export_dialog import ExportDialog

        dialog = ExportDialog(self.window.project, self.window, jobs=self.jobs)
        dialog.show()
        return dialog

    def open_settings(self) -> QWidget:
        from crisisdesk.gui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.window)
        dialog.show()
        return dialog

    # ------------------------------------------------------------------ jobs
    def run_embed(self) -> None:
        """Embed images (image encoder) and texts (text encoder) from the settings."""
        from crisisdesk.gui.dialogs.settings_dialog import setting

        project, device = self.window.project, setting("device")
        for kind, encoder in (("image", setting("image_encoder")),
                              ("text", setting("text_encoder"))):
            def make(kind: str = kind, encoder: str = encoder) -> Iterator[Progress]:
                from crisisdesk.core.embed import EmbedJob  # torch loads in the worker

                return EmbedJob(project, encoder, kinds=[kind], device=device).run()

            self.jobs.run(f"Embed {kind}s ({encoder})", make)

    def run_predict(self) -> None:
        project = self.window.project

        def make() -> Iterator[Progress]:
            from crisisdesk.core.fusion.predict import PredictJob

            return PredictJob(project).run()

        self.jobs.run("Predict", make)

    def run_retrain(self) -> None:
        """Train a new version per task; the report dialog decides the switch."""
        project, holder = self.window.project, self._retrain_holder

        def make() -> Iterator[Progress]:
            from crisisdesk.core.retrain import RetrainJob

            job = RetrainJob(project)
            holder["job"] = job
            return job.run() if hasattr(job, "run") else iter(job)

        runner = self.jobs.run("Retrain", make)
        runner.finished.connect(lambda state, _value: self._retrained(state))

    def _retrained(self, state: str) -> None:
        job = self._retrain_holder.pop("job", None)
        if state != "done" or job is None:
            return
        from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

        dialog = RetrainDialog(self.window.project, job.report, self.window)
        dialog.finished.connect(lambda _result: self.window.refresh())
        dialog.show()

    def _job_finished(self, title: str, state: str) -> None:
        self.window.refresh()
        if state == "failed":
            self.window.statusBar().showMessage(f"{title} failed: see the jobs panel", 15000)

    def shutdown(self) -> None:
        """Cancel running jobs (the window is closing)."""
        if self.jobs is not None:
            self.jobs.shutdown()


__all__ = ["WindowActions", "available"]
