"""The status line of the import, export and retrain dialogs after a failed job.

- The retrain report's "Switch failed: {message}" put the message into rich text as it
  was: a message holding "<" or "&" (a file name, a class like "<unk>") lost the words
  between the brackets, or broke the line.
- A failed job's traceback is the status line's tooltip, for an engineer; started again,
  the job ran (or ended well) under the old failure's traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from import_helpers import build_posts_folder
from PySide6.QtGui import QTextDocument
from test_hunt_dialogs import _report_to_switch

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import export_dialog, import_dialog, retrain_dialog
from crisisdesk.gui.dialogs.export_dialog import ExportDialog
from crisisdesk.gui.dialogs.import_dialog import ImportDialog
from crisisdesk.gui.worker import JobRunner

#: A message as a job may end in: a class name in angle brackets and an ampersand.
MARKUP = "class <unk> is not in the scheme of R&D posts"


def _shown(rich: str) -> str:
    """What a rich-text label shows of ``rich``, as plain text."""
    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText()


def _ended(qtbot, runner: JobRunner | None) -> str:
    assert runner is not None
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        if runner.state == "pending":
            runner.start()
    return blocker.args[0]


class _Jobs:
    """Import or export jobs: the first fails with ``MARKUP``, the next wait for ``gate``."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.made = 0

    def __call__(self, *_args, **_kwargs) -> _Jobs._Job:
        self.made += 1
        return _Jobs._Job(self.made == 1, self.gate)

    class _Job:
        def __init__(self, fails: bool, gate: threading.Event) -> None:
            self.fails, self.gate = fails, gate
            self.report, self.files, self.existed = None, [], []
            self.report_path, self.report_not_saved = None, ""

        def run(self) -> Iterator[Progress]:
            yield Progress(0, 2, "working")
            if self.fails:
                raise ValueError(MARKUP)
            self.gate.wait(10)
            yield Progress(2, 2, "working")

        def __iter__(self) -> Iterator[Progress]:
            return self.run()


def test_a_failed_switch_shows_its_message_as_written(qtbot, project: Project,
                                                      monkeypatch) -> None:
    def fails() -> Iterator[Progress]:
        yield Progress(0, 1, "damage: predicting")
        raise ValueError(MARKUP)

    monkeypatch.setattr(retrain_dialog, "apply_job", lambda *_args: fails())
    dialog = retrain_dialog.RetrainDialog(project, _report_to_switch())
    qtbot.addWidget(dialog)
    assert _ended(qtbot, dialog.apply()) == "failed"
    shown = _shown(dialog.status.text())
    assert MARKUP in shown, shown


def test_a_failed_read_of_the_versions_shows_its_message_as_written(
        qtbot, project: Project, monkeypatch) -> None:
    """The status line's other failures (the versions lists not read, a version not
    made active again) are rich text too."""
    from crisisdesk.core.fusion import versions

    def fails(*_args):
        raise ValueError(MARKUP)

    monkeypatch.setattr(versions, "summarise_versions", fails)
    dialog = retrain_dialog.RetrainDialog(project, _report_to_switch())
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "scheme" in dialog.status.text(), timeout=10_000)
    shown = _shown(dialog.status.text())
    assert MARKUP in shown, shown


def test_the_switch_started_again_drops_the_last_failures_traceback(
        qtbot, project: Project, monkeypatch) -> None:
    gate = threading.Event()
    runs = []

    def steps() -> Iterator[Progress]:
        runs.append(1)
        yield Progress(0, 1, "damage: predicting")
        if len(runs) == 1:
            raise ValueError(MARKUP)
        gate.wait(10)

    monkeypatch.setattr(retrain_dialog, "apply_job", lambda *_args: steps())
    dialog = retrain_dialog.RetrainDialog(project, _report_to_switch())
    qtbot.addWidget(dialog)
    assert _ended(qtbot, dialog.apply()) == "failed"
    assert "ValueError" in dialog.status.toolTip()  # the traceback, for an engineer
    runner = dialog.apply()
    try:
        assert dialog.status.toolTip() == "", dialog.status.toolTip()
    finally:
        gate.set()
    assert _ended(qtbot, runner) == "done"


def _fails_then_starts_again(qtbot, dialog, start, jobs: _Jobs) -> None:
    """Run ``start`` (the dialog's Import or Export) to its failure, then again."""
    assert _ended(qtbot, start()) == "failed"
    assert MARKUP in _shown(dialog.status.text())
    assert "ValueError" in dialog.status.toolTip()
    runner = start()
    try:
        assert dialog.status.toolTip() == "", dialog.status.toolTip()
    finally:
        jobs.gate.set()
    _ended(qtbot, runner)


def test_the_export_started_again_drops_the_last_failures_traceback(
        qtbot, demo_like_project: Project, tmp_path: Path, monkeypatch) -> None:
    jobs = _Jobs()
    monkeypatch.setattr(export_dialog, "ExportJob", jobs)
    dialog = ExportDialog(demo_like_project)
    qtbot.addWidget(dialog)
    dialog.out.setText(str(tmp_path / "x.csv"))
    _fails_then_starts_again(qtbot, dialog, dialog.start_export, jobs)


def test_the_import_started_again_drops_the_last_failures_traceback(
        qtbot, project: Project, tmp_path: Path, monkeypatch) -> None:
    jobs = _Jobs()
    monkeypatch.setattr(import_dialog, "ImportJob", jobs)
    dialog = ImportDialog(project)
    qtbot.addWidget(dialog)
    dialog.add_source(build_posts_folder(tmp_path / "posts"))
    dialog.format.setCurrentIndex(dialog.format.findData("folder"))
    _fails_then_starts_again(qtbot, dialog, dialog.start_import, jobs)
