"""The project's job records as the job history reads them: a page at a time, newest
first; any finished retrain's own report opened again, not only the newest; and a
"running" record left by a job killed before per-job lock files existed (it has none)
marked interrupted when the project is opened, while a job just starting is left alone."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_retrain import FAST, _project

from crisisdesk.core import job_locks
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import RetrainJob
from crisisdesk.core import retrain_saved
from crisisdesk.core.retrain_saved import SavedReportError, last_retrain
from crisisdesk.core.store.times import store_time

pytestmark = pytest.mark.skipif(job_locks.fcntl is None, reason="no flock here")


#: Two days before jobs took lock files: a job killed then left none.
BEFORE_LOCKS = job_locks.LOCK_FILES_SINCE - timedelta(days=2)


def _running_row(root: Path, started_at: datetime) -> int:
    """A job record saying running, started at ``started_at``, with no lock file (a job
    of a program killed before lock files existed, one that has not taken its lock yet,
    or one running on a computer that takes none)."""
    with Project.open(root).open_store() as store:
        job = store.start_job("caption", {})
        started = store_time(started_at.isoformat())
        store.conn.execute("UPDATE jobs SET started_at = ? WHERE id = ?", [started, job])
    return job


def _state(root: Path, job: int) -> dict:
    with Project.open(root).open_store() as store:
        row = store.job(job)
    assert row is not None
    return row


def test_a_running_record_without_a_lock_file_from_long_ago_is_marked_interrupted(
        tmp_path: Path) -> None:
    root = tmp_path / "project"
    Project.open(root, create=True)
    job = _running_row(root, BEFORE_LOCKS)
    row = _state(root, job)  # the open marks it
    assert row["state"] == "failed", row
    assert row["error"] == job_locks.INTERRUPTED


def test_a_running_record_just_written_is_left_running(tmp_path: Path) -> None:
    # Another program wrote its job's record a moment ago and is about to take its lock.
    root = tmp_path / "project"
    Project.open(root, create=True)
    job = _running_row(root, datetime.now(UTC) - timedelta(seconds=1))
    assert _state(root, job)["state"] == "running"


def test_a_lockless_record_started_since_jobs_take_locks_is_left_running(
        tmp_path: Path) -> None:
    # A job of a Windows computer sharing the project folder (no flock there: no lock
    # file), running for hours: told to run it again, a colleague would redo GPU hours.
    root = tmp_path / "project"
    Project.open(root, create=True)
    job = _running_row(root, job_locks.LOCK_FILES_SINCE + timedelta(minutes=1))
    assert _state(root, job)["state"] == "running"


def test_where_no_lock_can_be_taken_a_lockless_record_is_left_running(
        tmp_path: Path, monkeypatch) -> None:
    # A drive where flock fails: jobs run there without lock files, so a record without
    # one says nothing of its program being gone.
    root = tmp_path / "project"
    Project.open(root, create=True)
    job = _running_row(root, BEFORE_LOCKS)

    def no_flock(_handle, _flags) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(job_locks.fcntl, "flock", no_flock)
    assert _state(root, job)["state"] == "running"


def test_the_jobs_are_read_newest_first_a_page_at_a_time(tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = Project.open(root, create=True)
    with project.open_store() as store:
        ids = [store.start_job(kind, {}) for kind in ("import", "embed", "predict")]
        for job in ids:
            store.finish_job(job, "done")
        first = store.jobs_page(limit=2)
        older = store.jobs_page(before=first[-1]["id"], limit=2)
    assert [row["id"] for row in first + older] == sorted(ids, reverse=True)
    assert [row["kind"] for row in first] == ["predict", "embed"]
    assert "result" not in first[0]  # a retrain's whole report is not read to list it


def two_retrains(tmp_path: Path) -> tuple[Project, RetrainJob, RetrainJob]:
    """A project with an active version, then two retrains on other encoders."""
    project = _project(tmp_path, n=120)
    list(TrainJob(project, "damage", image_encoder=None, text_encoder="txt-enc",
                  recipe=FAST).run())
    first = RetrainJob(project, ["damage"], image_encoder="img-enc",
                       text_encoder="txt-enc", recipe=FAST)
    list(first.run())
    second = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder=None,
                        recipe=FAST)
    list(second.run())
    return project, first, second


def test_an_older_retrain_opens_its_own_report(tmp_path: Path) -> None:
    project, first, second = two_retrains(tmp_path)
    assert first.job is not None and second.job is not None and first.job != second.job
    older = retrain_saved.saved_retrain(project, first.job)
    assert older.job == first.job and not older.newest
    assert asdict(older.report) == asdict(first.report)
    newest = last_retrain(project)
    assert newest.job == second.job and newest.newest
    assert asdict(newest.report) == asdict(second.report)


def test_a_job_that_is_no_finished_retrain_says_so(tmp_path: Path) -> None:
    root = tmp_path / "project"
    project = Project.open(root, create=True)
    with project.open_store() as store:
        embed = store.start_job("embed", {})
        store.finish_job(embed, "done")
    with pytest.raises(SavedReportError, match=f"jobs row {embed}.*not a retrain"):
        retrain_saved.saved_retrain(project, embed)
    with pytest.raises(SavedReportError, match=f"jobs row {embed + 1}"):
        retrain_saved.saved_retrain(project, embed + 1)
