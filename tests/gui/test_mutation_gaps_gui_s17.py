"""Behaviours of session 17's GUI modules that no test held (found by planting bugs in a
copy): how Jobs > History says a job's counts and times (a job with no total, a failed
one with no end, a clock that disagreed, a record without a zone, problems), that only a
finished retrain's line has a report (the button and a double-click), that Refresh shows
each job once and a failed read can be tried again; an OS error's number left out on
Windows and in the app's reworded messages; a job row's GPU without a name, its Report…
only once done, only where offered, and again after Retry; Show log folder saying why no
log is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crisisdesk.core.project import Project
from crisisdesk.gui.dialogs import job_history
from crisisdesk.gui.dialogs.job_history import JobHistoryDialog, job_line

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _row(**fields: Any) -> dict[str, Any]:
    """A jobs table row as ``Store.jobs_page`` gives it: a done embed by default."""
    row = {"id": 7, "kind": "embed", "state": "done", "done": 40, "total": 40,
           "problems": 0, "error": None, "started_at": "2026-11-28T11:00:00.000Z",
           "finished_at": "2026-11-28T11:02:05.000Z"}
    return row | fields


def test_a_job_without_a_total_says_what_it_did_alone() -> None:
    # A job that never knew its total (a folder watched, an import of unknown size):
    # "12 of 0" would read as twelve done out of nothing.
    line = job_line(_row(done=12, total=0), NOW)
    assert "12" in line.message and "of 0" not in line.message


def test_a_jobs_problems_are_counted_in_its_line() -> None:
    clean, found = job_line(_row(), NOW), job_line(_row(problems=3), NOW)
    assert "3 problems" in found.message and "problem" not in clean.message


def test_a_failed_job_with_no_end_recorded_has_no_time_taken() -> None:
    # A failed record without finished_at (written by a crash mid-update) says no time,
    # rather than the time from its start until now as if it were still running.
    line = job_line(_row(state="failed", error="OSError: gone", finished_at=None), NOW)
    running = job_line(_row(state="running", finished_at=None), NOW)
    assert line.took == "–"
    assert running.took.endswith(" so far") and running.took != "–"


def test_an_end_before_its_start_takes_no_time_rather_than_less_than_none() -> None:
    # Two computers sharing the folder disagreed on the clock: never "-1:-55".
    line = job_line(_row(finished_at="2026-11-28T10:58:00.000Z"), NOW)
    assert "-" not in line.took and line.took == job_line(
        _row(finished_at="2026-11-28T11:00:00.000Z"), NOW).took


def test_a_time_stored_without_a_zone_is_read_as_utc() -> None:
    # An older record's time without its "Z": read, not a crash of the whole history.
    zoned = job_line(_row(state="running", finished_at=None), NOW)
    plain = job_line(_row(state="running", finished_at=None,
                          started_at="2026-11-28T11:00:00"), NOW)
    assert plain.took == zoned.took


@pytest.mark.parametrize("state", ["failed", "cancelled", "running"])
def test_only_a_finished_retrain_has_a_report(state: str) -> None:
    assert job_line(_row(kind="retrain"), NOW).has_report
    assert not job_line(_row(kind="retrain", state=state, error="ValueError: x"),
                        NOW).has_report
    assert not job_line(_row(kind="train"), NOW).has_report


def _shown(qtbot, dialog: JobHistoryDialog, rows: int) -> None:
    qtbot.waitUntil(lambda: dialog.table.rowCount() == rows and dialog.refresh.isEnabled(),
                    timeout=20_000)


def test_refresh_shows_each_job_once_and_selects_the_job_shown(qtbot, tmp_path) -> None:
    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        ids = [store.start_job(kind, {}) for kind in ("import", "embed")]
        for job in ids:
            store.finish_job(job, "done")
    dialog = JobHistoryDialog(project)
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog, 2)
    with project.open_store() as store:
        newest = store.start_job("export", {})
        store.finish_job(newest, "done")
    dialog.refresh.click()
    _shown(qtbot, dialog, 3)
    qtbot.waitUntil(lambda: len(dialog.lines) == 3, timeout=5000)
    assert [line.job for line in dialog.lines] == [newest, *reversed(ids)]
    dialog.table.selectRow(0)
    selected = dialog.selected()
    assert selected is not None and selected.job == newest
    dialog.reject()


def test_a_failed_read_says_why_and_can_be_tried_again(qtbot, tmp_path,
                                                       monkeypatch) -> None:
    project = Project.open(tmp_path / "project", create=True)
    real = job_history.read_page
    calls: list[int | None] = []

    def read(project: Project, before: int | None):
        calls.append(before)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        return real(project, before)

    monkeypatch.setattr(job_history, "read_page", read)
    dialog = JobHistoryDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "could not be read" in dialog.status.text(), timeout=20_000)
    assert "Input/output error" in dialog.status.text()
    assert dialog.refresh.isEnabled()  # the analyst can try again
    dialog.refresh.click()
    qtbot.waitUntil(lambda: "No jobs have run" in dialog.status.text(), timeout=20_000)
    dialog.reject()


def test_a_windows_error_number_is_left_out_as_a_posix_one_is() -> None:
    # An analyst on Windows reads "[WinError 32]" as much jargon as "[Errno 28]".
    from crisisdesk.gui.advice import os_words, stored_error

    said = "[WinError 32] The process cannot access the file: 'C:\\\\out\\\\labels.csv'"
    assert os_words(said) == os_words(said.replace("[WinError 32]", "[Errno 13]"))
    assert "WinError" not in stored_error(f"PermissionError: {said}")
    assert "labels.csv" in stored_error(f"PermissionError: {said}")


def test_an_os_error_put_in_the_apps_words_loses_its_number_too() -> None:
    # A message the app rewords (the core's --device option made a setting) that also
    # quotes an OS error: both the app's words and no "[Errno N]".
    from crisisdesk.gui.advice import plain_error

    said = plain_error(OSError("--device cuda:1: [Errno 19] No such device: '/dev/nvidia1'"))
    assert "Settings" in said and "--device" not in said
    assert "Errno" not in said and "No such device: '/dev/nvidia1'" in said


def test_a_double_click_on_a_line_without_a_report_asks_for_none(qtbot, tmp_path) -> None:
    # Report… is disabled there; a double-click (open_report) must not ask either: the
    # window would try to open a failed retrain's half report, or an export's.
    project = Project.open(tmp_path / "project", create=True)
    with project.open_store() as store:
        store.finish_job(store.start_job("retrain", {}), "failed", "RuntimeError: stopped")
        store.finish_job(store.start_job("export", {}), "done")
    dialog = JobHistoryDialog(project)
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog, 2)
    for row in range(2):
        dialog.table.selectRow(row)
        with qtbot.assertNotEmitted(dialog.report_wanted):
            dialog.table.cellDoubleClicked.emit(row, 0)
    dialog.reject()


# ------------------------------------------------------------------ a job's row


def test_a_gpu_with_no_name_learnt_is_said_without_one() -> None:
    from crisisdesk.core import gpu_names
    from crisisdesk.gui.job_row import device_words

    gpu_names.forget_gpu_names()
    assert device_words("cuda:0") == "on GPU 0"  # not "on GPU 0, "
    assert device_words("cuda") == "on the GPU"


def _until_ended(qtbot, runner) -> None:
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=10_000)


def test_report_shows_once_a_job_that_offers_one_is_done_and_on_no_other(qtbot) -> None:
    import threading

    from crisisdesk.core.progress import Progress
    from crisisdesk.gui.jobs_panel import JobsPanel

    panel = JobsPanel()
    qtbot.addWidget(panel)
    gate = threading.Event()

    def slow():
        yield Progress(1, 2, "compared", "cpu")
        gate.wait(10)
        yield Progress(2, 2, "compared", "cpu")

    opened: list[str] = []
    runner = panel.run("Retrain", slow)
    try:
        row = panel.row_of(runner)
        qtbot.waitUntil(lambda: runner.last_progress is not None, timeout=5000)
        row.offer_report(lambda: opened.append("report"))
        assert not row.report.isVisibleTo(row)  # no report before the job is done
    finally:
        gate.set()
    _until_ended(qtbot, runner)
    assert runner.state == "done" and row.report.isVisibleTo(row)
    row.report.click()
    assert opened == ["report"]
    other = panel.run("Export", lambda: iter([Progress(1, 1, "written", "cpu")]))
    _until_ended(qtbot, other)
    other_row = panel.row_of(other)
    assert other.state == "done" and not other_row.report.isVisibleTo(other_row)


def test_a_retried_job_still_offers_its_report(qtbot) -> None:
    from crisisdesk.core.progress import Progress
    from crisisdesk.gui.jobs_panel import JobsPanel

    panel = JobsPanel()
    qtbot.addWidget(panel)
    runs: list[int] = []

    def flaky():
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("the disk was busy")
        yield Progress(1, 1, "compared", "cpu")

    opened: list[str] = []
    first = panel.run("Retrain", flaky)
    panel.row_of(first).offer_report(lambda: opened.append("report"))
    _until_ended(qtbot, first)
    assert first.state == "failed"
    panel.row_of(first).retry.click()
    again = panel.rows[0].runner
    assert again is not first
    _until_ended(qtbot, again)
    row = panel.row_of(again)
    assert again.state == "done" and row.report.isVisibleTo(row)
    row.report.click()
    assert opened == ["report"]


# ------------------------------------------------------------------ Show log folder


def test_where_no_log_is_kept_the_box_says_why_in_text_that_can_be_copied(
        qtbot, user_folders, monkeypatch) -> None:
    from PySide6.QtCore import Qt

    from crisisdesk.core import app_log
    from crisisdesk.gui import log_folder

    opened: list[object] = []
    monkeypatch.setattr(log_folder.QDesktopServices, "openUrl",
                        lambda url: opened.append(url) or True)
    blocked = app_log.log_folder()
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the log folder should be")
    try:
        assert app_log.start_log() is None
        box = log_folder.show_log_folder(None)
    finally:
        app_log.stop_log()
    assert box is not None and opened == []
    assert box.text().startswith("No log is kept") and str(blocked) in box.text()
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    box.close()
