"""A day-long app session does not grow: what the analyst opens and closes all day (the
Import, Export, Settings and Model versions dialogs, the retrain report) is freed once
closed, and what those dialogs still wait for (an export or a switch running on in the
jobs panel, a versions list to refresh) does not trip over them once gone.

Counted in live dialogs after closing, never timed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QDialog
from window_helpers import open_window, settle

from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainReport, TaskRetrain
from crisisdesk.gui.main_window import MainWindow
from crisisdesk.gui.worker import JobRunner

OPENS = 10
SCORES = {"macro_f1": 0.9, "classes": ["yes", "no"], "confusion": [[3, 0], [1, 2]],
          "per_class": {"yes": {"f1": 0.9}, "no": {"f1": 0.8}}}


class _Retrained:
    """What the window's report needs of a finished RetrainJob: its report."""

    report = RetrainReport({"damage": TaskRetrain(
        "damage", holdout_split="dev", holdout=6, candidate=7, candidate_name="damage-v7",
        new=SCORES, current=SCORES, active=3, active_name="damage-v3",
        recommend_switch=True)})


def _deleted() -> None:
    """Let the widgets handed to deleteLater (a dialog closed) go."""
    for _ in range(2):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _open_retrain_report(window: MainWindow) -> QDialog:
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    window.actions_._retrained("done", _Retrained())
    return next(d for d in window.findChildren(RetrainDialog) if d.isVisible())


OPENERS = {
    "ImportDialog": lambda window: window.actions_.open_import(),
    "ExportDialog": lambda window: window.actions_.open_export(),
    "SettingsDialog": lambda window: window.actions_.open_settings(),
    "VersionsDialog": lambda window: window.actions_.open_versions(),
    "RetrainDialog": _open_retrain_report,
}


@pytest.mark.parametrize("kind", list(OPENERS))
def test_a_dialog_opened_and_closed_all_day_is_not_kept(qtbot, demo_like_project: Project,
                                                        kind: str) -> None:
    """Each open made a new dialog that, closed, stayed a hidden child of the window for
    the rest of the day: 30 Imports left 30 dialogs (about 9,000 Qt objects, with their
    thread pools), 30 Settings 5,000."""
    window = open_window(qtbot, demo_like_project)
    for _ in range(OPENS):
        dialog = OPENERS[kind](window)
        assert type(dialog).__name__ == kind and dialog.isVisible()
        qtbot.waitUntil(lambda: not window.background.busy())
        dialog.reject()
        _deleted()
    settle(qtbot, window)
    _deleted()
    left = [d for d in window.findChildren(QDialog) if type(d).__name__ == kind]
    assert left == []


def _gated(gate: threading.Event) -> Iterator[Progress]:
    yield Progress(0, 2, "started", "cpu")
    gate.wait(10)
    yield Progress(1, 2, "half", "cpu")


def _close_while_it_runs(qtbot, window: MainWindow, dialog: QDialog,
                         start: Callable[[], JobRunner], gate: threading.Event) -> None:
    """Start ``dialog``'s job, close the dialog while the job waits on ``gate``, then let
    the job end: it ends well in its row, and the dialog is gone."""
    kind = type(dialog)
    runner = start()
    qtbot.waitUntil(lambda: runner.last_progress is not None)
    dialog.reject()
    _deleted()
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        gate.set()
    assert runner.state == "done"
    assert window.findChildren(kind) == []


def test_an_export_closed_while_it_runs_ends_in_its_row(qtbot, demo_like_project: Project,
                                                         monkeypatch) -> None:
    """Close is allowed while an export runs (it goes on in the jobs panel): freed, the
    dialog must not be reported to (its progress went to a label already deleted)."""
    from crisisdesk.gui.dialogs import export_dialog

    gate = threading.Event()
    monkeypatch.setattr(export_dialog, "ExportJob", lambda *_args: _gated(gate))
    window = open_window(qtbot, demo_like_project)
    dialog = window.actions_.open_export()
    _close_while_it_runs(qtbot, window, dialog, dialog.start_export, gate)


def test_a_switch_outlives_its_closed_report(qtbot, demo_like_project: Project,
                                              monkeypatch) -> None:
    """The report closed (its title bar's close, Esc) while the switch runs: the switch
    ends in its row, and the freed report is not told."""
    from crisisdesk.gui.dialogs import retrain_dialog

    gate = threading.Event()
    monkeypatch.setattr(retrain_dialog, "apply_job", lambda *_args: _gated(gate))
    window = open_window(qtbot, demo_like_project)
    dialog = _open_retrain_report(window)
    _close_while_it_runs(qtbot, window, dialog, dialog.apply, gate)


def test_a_job_ending_after_the_versions_window_closed(qtbot, demo_like_project: Project
                                                       ) -> None:
    """A job's end refreshes the Model versions window when it is open; once closed (and
    freed) it is left alone, and the next open makes a new one."""
    window = open_window(qtbot, demo_like_project)
    first = window.actions_.open_versions()
    qtbot.waitUntil(lambda: not window.background.busy() and first.loaded)
    first.reject()
    _deleted()

    def quick() -> Iterator[Progress]:
        yield Progress(1, 1, "done", "cpu")

    jobs = window.actions_.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=10_000):
        jobs.run("Predict", quick)
    settle(qtbot, window)
    again = window.actions_.open_versions()
    assert again.isVisible() and again is not first
