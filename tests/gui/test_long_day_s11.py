"""An analyst's long day: the app open for hours, a watch running, jobs after jobs. The
jobs panel keeps a bounded number of rows, and what "Clear finished" drops is freed
(counted in rows and live objects, never timed)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QMessageBox, QWidget
from test_jobs_panel import _cancelled, _gated, _panel

from crisisdesk.core.importers.watch import WatchOptions
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.gui import jobs_panel
from crisisdesk.gui.jobs_panel import JobRow, JobsPanel
from crisisdesk.gui.watch_folder import FolderWatch


def _quick(fail: bool = False) -> Iterator[Progress]:
    yield Progress(1, 2, "half", "cpu")
    if fail:
        raise OSError("media/p1.jpg: permission denied")
    yield Progress(2, 2, "all", "cpu")


def _run(qtbot, panel: JobsPanel, title: str, fail: bool = False) -> None:
    with qtbot.waitSignal(panel.job_finished, timeout=10_000):
        panel.run(title, lambda: _quick(fail))


def _deleted(qtbot) -> None:
    """Let the rows handed to deleteLater go."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(10)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_done_rows_are_bounded_and_failed_or_cancelled_rows_stay(qtbot, monkeypatch) -> None:
    """A day of Predicts made one row each, kept until Clear finished (300 jobs: 3,600
    widgets, +50 MB): only the newest KEEP_DONE rows of jobs that ended well stay; a
    failed or cancelled row (its message, Retry) stays until cleared."""
    monkeypatch.setattr(jobs_panel, "KEEP_DONE", 3, raising=False)
    panel = _panel(qtbot)
    _run(qtbot, panel, "Caption", fail=True)
    _cancelled(qtbot, panel, "Embed")
    for n in range(8):
        _run(qtbot, panel, f"Predict {n}")
    _deleted(qtbot)

    titles = [row.runner.title for row in panel.rows]
    assert titles == ["Predict 7", "Predict 6", "Predict 5", "Embed", "Caption"]
    assert len(panel.findChildren(JobRow)) == 5  # the dropped rows' widgets are gone
    assert panel.summary.text() == ("0 running · 3 done (and 5 older, no longer listed) · "
                                    "1 cancelled ·")
    assert panel.failures.text() == "1 failed: see its row"
    panel.clear_finished()
    assert panel.rows == [] and panel.summary.text() == "No jobs yet"


def test_a_long_job_ending_after_many_short_ones_keeps_its_row(qtbot, monkeypatch) -> None:
    """Rows go by when their job ended, not when it started: a Retrain started in the
    morning and ending after a string of Predicts shows how it ended."""
    monkeypatch.setattr(jobs_panel, "KEEP_DONE", 2, raising=False)
    panel = _panel(qtbot)
    gate = threading.Event()
    retrain = panel.run("Retrain", lambda: _gated(gate, 1))
    for n in range(4):
        _run(qtbot, panel, f"Predict {n}")
    with qtbot.waitSignal(retrain.finished, timeout=10_000):
        gate.set()
    assert [row.runner.title for row in panel.rows] == ["Predict 3", "Retrain"]


class _Window(QWidget):
    """What FolderWatch needs of a window: its project and a refresh."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project

    def refresh(self) -> None:
        pass


def test_clear_finished_frees_the_jobs_of_watches(qtbot, tmp_path: Path) -> None:
    """The watch's own progress and finished handlers held its runner (and the runner's
    thread, its last progress, a failed one's traceback with the job's frames) through
    the runner's signals: Clear finished dropped the rows, never the watches."""
    project = Project.open(tmp_path / "p", create=True)
    window = _Window(project)
    qtbot.addWidget(window)
    panel = _panel(qtbot)
    watch = FolderWatch(window, panel)  # type: ignore[arg-type]
    refs = []
    for n in range(3):
        runner = watch.start(tmp_path / f"gone{n}", WatchOptions(interval=0.01))
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            pass
        refs.append(weakref.ref(runner))
    assert [ref().state for ref in refs] == ["failed"] * 3  # a folder that is not there
    del runner
    panel.clear_finished()
    _deleted(qtbot)
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_details_popups_closed_do_not_pile_up_under_a_failed_row(qtbot) -> None:
    """A failed row stays all day; each "Details…" made a popup that, closed, stayed
    under the row, hidden (30 looks: 30 message boxes, 260 widgets more)."""
    panel = _panel(qtbot)
    _run(qtbot, panel, "Caption", fail=True)
    row = panel.rows[0]
    for _ in range(3):
        box = row.show_details()
        assert "permission denied" in box.detailedText()
        box.button(QMessageBox.StandardButton.Close).click()
        _deleted(qtbot)
    assert row.findChildren(QMessageBox) == []
