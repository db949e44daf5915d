"""Jobs > History and a retrain's report opened again, next steps (session 17): a report
whose task's active version changed since says Switch leaves that task and why (and does
not offer a Switch that can only be refused); the history refreshes itself when a job of
the window ends, keeping the selection and the scroll; a job under a second says so; and
each line says what its job ran on, read defensively from the jobs table's params."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtWidgets import QAbstractItemView
from test_retrain import FAST
from test_job_history_live_s18 import _readers
from test_retrain_saved_s16 import _retrained
from window_helpers import open_window, settle

from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import reactivate_version
from crisisdesk.core.retrain_saved import last_retrain
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog, job_line
from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog


def _row(**changes) -> dict:
    """A jobs-table row as the history reads it (a finished import by default)."""
    row = {"id": 7, "kind": "import", "state": "done", "error": None, "done": 3,
           "total": 3, "problems": 0, "started_at": "2026-11-28T16:38:00.000Z",
           "finished_at": "2026-11-28T16:38:05.000Z", "params": None}
    row.update(changes)
    return row


# ------------------------------------------------------------------ 1. Switch said before
def test_a_report_whose_active_version_changed_offers_no_switch_and_says_why(
        qtbot, tmp_path: Path) -> None:
    project, job = _retrained(tmp_path)
    other = TrainJob(project, "damage", image_encoder="img-enc", text_encoder=None,
                     recipe=FAST, activate=False)
    list(other.run())
    with project.open_store() as store:
        reactivate_version(store, other.report.model_version)  # made active since
        name = store.model_version(other.report.model_version)["name"]
    saved = last_retrain(project)
    dialog = RetrainDialog(project, saved.report, saved=saved)
    qtbot.addWidget(dialog)
    dialog.pages["damage"].override.setChecked(True)  # even ticked: it cannot switch
    assert dialog.tasks_to_switch() == []
    assert not dialog.switch.isEnabled()
    assert name in dialog.switch.toolTip() and "damage" in dialog.switch.toolTip()
    assert name in dialog.made.text()  # said above the tabs
    # The tab does not recommend a switch that Switch will not make.
    assert "switch recommended" not in dialog.tabs.tabToolTip(0)
    assert "leaves" in dialog.tabs.tabToolTip(0)
    dialog.reject()


# ------------------------------------------------------------------ 2. refreshes itself
def test_the_history_refreshes_when_a_job_of_the_window_ends_keeping_its_place(
        qtbot, demo_like_project: Project, monkeypatch) -> None:
    with demo_like_project.open_store() as store:
        for _ in range(60):
            store.finish_job(store.start_job("export", {}), "done")
        count = len(store.jobs_page())
    readers = _readers(monkeypatch)
    window = open_window(qtbot, demo_like_project)
    window.actions_.history.trigger()
    dialog = next(d for d in window.findChildren(JobHistoryDialog) if d.isVisible())
    qtbot.waitUntil(lambda: dialog.table.rowCount() == count and dialog.refresh.isEnabled(),
                    timeout=20_000)
    table = dialog.table
    dialog.resize(dialog.width(), 300)  # a few rows in view: the list scrolls
    chosen = dialog.lines[40].job
    table.selectRow(40)
    table.scrollToItem(table.item(30, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    top = dialog.lines[table.rowAt(0)].job
    assert table.verticalScrollBar().value() > 0
    readers.clear()

    def body():
        yield Progress(1, 1, "written")

    project = demo_like_project
    with qtbot.waitSignal(window.actions_.jobs.job_finished, timeout=30_000):
        window.actions_.jobs.run("Export", lambda: tracked(project, "export", {}, body()))
    # No Refresh clicked: the new job's line comes by itself, read off the UI thread.
    qtbot.waitUntil(lambda: table.rowCount() == count + 1, timeout=20_000)
    assert readers and threading.main_thread() not in readers
    assert dialog.selected() is not None and dialog.selected().job == chosen
    assert dialog.lines[table.rowAt(0)].job == top  # the same lines in view
    dialog.reject()
    settle(qtbot, window)


# ------------------------------------------------------------------ 3. under a second
def test_a_job_shorter_than_a_second_does_not_say_it_took_nothing() -> None:
    start = datetime(2026, 11, 28, 16, 38, tzinfo=UTC)
    quick = job_line(_row(started_at=start.isoformat(),
                          finished_at=(start + timedelta(milliseconds=300)).isoformat()),
                     datetime.now(UTC))
    assert quick.took != "0:00" and "second" in quick.took, quick.took
    longer = job_line(_row(started_at=start.isoformat(),
                           finished_at=(start + timedelta(seconds=5)).isoformat()),
                      datetime.now(UTC))
    assert longer.took == "0:05"


# ------------------------------------------------------------------ 4. what it ran on
def test_each_line_says_what_its_job_ran_on(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    retrain = job_line(_row(kind="retrain", params=json.dumps(
        {"tasks": ["damage", "humanitarian"], "annotator": "ana"})), now)
    assert "damage" in retrain.ran_on and "humanitarian" in retrain.ran_on
    assert "ana" not in retrain.ran_on  # who ran it is not what it ran on
    source = tmp_path / "floods" / "posts.csv"
    imported = job_line(_row(params=json.dumps({"sources": [str(source)],
                                                "format": "csv"})), now)
    assert "posts.csv" in imported.ran_on and str(tmp_path) not in imported.ran_on
    export = job_line(_row(kind="export", params=json.dumps(
        {"out": str(tmp_path / "out"), "format": "csv", "tasks": ["damage"]})), now)
    assert "damage" in export.ran_on and "CSV" in export.ran_on.upper()
    watch = job_line(_row(kind="import-watch", params=json.dumps(
        {"folder": str(tmp_path / "incoming"), "source": "x", "interval": 5})), now)
    assert "incoming" in watch.ran_on


def test_old_or_hand_edited_params_are_read_without_failing() -> None:
    now = datetime.now(UTC)
    for params in (None, "", "{not json", "[1, 2]", '"text"', json.dumps({"tasks": 3}),
                   json.dumps({"sources": [1, None]}), json.dumps({"out": {"a": 1}})):
        for kind in ("import", "retrain", "export", "predict", "something-new"):
            line = job_line(_row(kind=kind, params=params), now)
            assert isinstance(line.ran_on, str)
    # A row read before the history read params at all (no key): nothing to say.
    row = _row()
    del row["params"]
    assert job_line(row, now).ran_on == ""


def test_the_history_shows_what_each_job_ran_on(qtbot, demo_like_project: Project) -> None:
    with demo_like_project.open_store() as store:
        job = store.start_job("predict", {"tasks": ["informative"]})
        store.finish_job(job, "done")
    dialog = JobHistoryDialog(demo_like_project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() > 0 and dialog.refresh.isEnabled(),
                    timeout=20_000)
    row = next(i for i, line in enumerate(dialog.lines) if line.job == job)
    shown = " ".join(dialog.table.item(row, c).toolTip()
                     for c in range(dialog.table.columnCount()))
    assert "informative" in shown
    dialog.reject()
