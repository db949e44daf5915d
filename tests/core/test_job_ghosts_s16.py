"""A job whose process was killed (SIGKILL, a crash, a power cut) does not stay
"running" in the project's jobs table for ever: the next open of the project marks it
failed as interrupted. A job still running (another window's, another process's) is
left alone. The killed process is real: a child that kills itself mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")

KILLED_MID_JOB = textwrap.dedent("""
    import os, signal, sys
    from crisisdesk.core.jobs import tracked
    from crisisdesk.core.progress import Progress
    from crisisdesk.core.project import Project

    def body():
        yield Progress(1, 10, "captioning")
        os.kill(os.getpid(), signal.SIGKILL)  # no finally, no job record written
        yield Progress(2, 10, "captioning")

    for _ in tracked(Project.open(sys.argv[1]), "caption", {}, body()):
        pass
""")


def _killed_mid_job(root: Path) -> None:
    """Run a job in a child process that is killed while it runs."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", KILLED_MID_JOB, str(root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _jobs(root: Path) -> list[dict]:
    with Project.open(root).open_store() as store:
        return [dict(row) for row in store.conn.execute(
            "SELECT id, kind, state, error, done FROM jobs ORDER BY id")]


def test_a_killed_job_is_marked_interrupted_on_the_next_open(tmp_path: Path) -> None:
    root = tmp_path / "project"
    Project.open(root, create=True)
    _killed_mid_job(root)
    (job,) = _jobs(root)
    assert job["state"] == "failed", job  # not "running" for ever
    assert "interrupted" in (job["error"] or "").lower(), job
    assert job["done"] == 1  # what it had recorded is kept


def test_a_job_running_elsewhere_is_left_running(tmp_path: Path) -> None:
    # Another window's job, mid-way, while this one opens the project.
    root = tmp_path / "project"
    project = Project.open(root, create=True)

    def body() -> Iterator[Progress]:
        yield Progress(1, 10)
        yield Progress(2, 10)

    running = tracked(project, "embed", {}, body())
    next(running)
    try:
        (job,) = _jobs(root)
        assert job["state"] == "running", job
    finally:
        running.close()
    (job,) = _jobs(root)
    assert job["state"] == "cancelled", job


def test_a_project_opened_while_a_job_takes_its_lock_leaves_it_running(
        tmp_path: Path, monkeypatch) -> None:
    # Another window opens the project in the moment between the job's lock file
    # appearing and its lock being taken: that file was taken for a dead job's, and the
    # running job marked failed (then overwritten "done" at its end, unlocked meanwhile).
    from crisisdesk.core import job_locks

    root = tmp_path / "project"
    project = Project.open(root, create=True)
    real_flock, seen = job_locks.fcntl.flock, []

    def flock_after_an_open(handle, flags) -> None:
        if not seen:
            seen.append(handle)
            Project.open(root)  # the other window's open, in the gap
        real_flock(handle, flags)

    monkeypatch.setattr(job_locks.fcntl, "flock", flock_after_an_open)

    def body() -> Iterator[Progress]:
        yield Progress(1, 10)

    running = tracked(project, "embed", {}, body())
    next(running)
    try:
        assert seen, "the lock was never taken"
        (job,) = _jobs(root)
        assert job["state"] == "running", job
        assert sorted(p.name for p in (root / job_locks.LOCKS).iterdir()) == [
            f"{job['id']}.lock"]
    finally:
        running.close()
    assert list((root / job_locks.LOCKS).iterdir()) == []  # released, its file gone
