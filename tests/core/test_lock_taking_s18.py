"""A job killed while it took its lock (between its ``<job>.lock.taking`` file appearing
and that file becoming ``<job>.lock``) left the ``.lock.taking`` file behind, and its
record said "running" for ever: opening the project looked only at ``.lock`` files, and
counted a ``.lock.taking`` as a live job's. Now a ``.lock.taking`` that nobody holds a
lock on and that is older than a starting job can take to rename it marks its job
interrupted; one just made (a job taking its lock this moment), or one whose lock is
held, is left alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crisisdesk.core import job_locks
from crisisdesk.core.project import Project

pytestmark = pytest.mark.skipif(job_locks.fcntl is None, reason="no flock here")


def _taking(root: Path, age_s: float) -> tuple[int, Path]:
    """A running job record whose program stopped while it took its lock: its
    ``.lock.taking`` file, made ``age_s`` seconds ago."""
    with Project.open(root, create=True).open_store() as store:
        job = store.start_job("caption", {})
    folder = root / job_locks.LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job}.lock.taking"
    path.touch()
    then = time.time() - age_s
    os.utime(path, (then, then))
    return job, path


def _state(root: Path, job: int) -> dict:
    with Project(root).open_store() as store:
        row = store.job(job)
    assert row is not None
    return row


def test_a_job_killed_while_taking_its_lock_is_marked_interrupted(tmp_path: Path) -> None:
    root = tmp_path / "project"
    job, path = _taking(root, 2 * job_locks.LOCKLESS_AFTER.total_seconds())
    assert job_locks.mark_interrupted(root, root / "project.sqlite") == [job]
    row = _state(root, job)
    assert row["state"] == "failed" and row["error"] == job_locks.INTERRUPTED, row
    assert not path.exists()  # done with: the next open does not look at it again


def test_the_next_open_of_the_project_marks_it(tmp_path: Path) -> None:
    root = tmp_path / "project"
    job, _ = _taking(root, 2 * job_locks.LOCKLESS_AFTER.total_seconds())
    Project.open(root)
    assert _state(root, job)["state"] == "failed"


def test_a_job_taking_its_lock_this_moment_is_left_running(tmp_path: Path) -> None:
    # Its file made a moment ago, its flock not taken yet: its program is alive.
    root = tmp_path / "project"
    job, path = _taking(root, 1)
    assert job_locks.mark_interrupted(root, root / "project.sqlite") == []
    assert _state(root, job)["state"] == "running"
    assert path.exists()  # the starting job renames it in a moment


def test_an_old_lock_taking_file_whose_lock_is_held_is_left_alone(tmp_path: Path) -> None:
    # A program stopped (suspended) between its flock and the rename: still alive.
    root = tmp_path / "project"
    job, path = _taking(root, 2 * job_locks.LOCKLESS_AFTER.total_seconds())
    with open(path, encoding="utf-8") as held:
        job_locks.fcntl.flock(held, job_locks.fcntl.LOCK_EX | job_locks.fcntl.LOCK_NB)
        assert job_locks.mark_interrupted(root, root / "project.sqlite") == []
    assert _state(root, job)["state"] == "running"
    assert path.exists()
