"""Telling a job whose process was killed from a job still running.

A job recorded as running in the jobs table stays so when its process dies without its
``finally`` (SIGKILL, a crash, a power cut). While it runs, its process holds an OS lock
(``flock``) on ``cache/jobs/<job id>.lock``; the system lets go of that lock however the
process ends. So a lock file that can be taken belongs to a job whose process is gone:
:func:`mark_interrupted` (run when a project is opened) records such a job as failed,
interrupted. A job running in another window or process holds its lock and is left alone.
Where there is no ``flock`` (Windows), nothing is marked.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crisisdesk.core.store import Store
from crisisdesk.core.store.schema import StoreError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: The folder of the lock files, under the project's cache/.
LOCKS = Path("cache") / "jobs"
#: The error recorded for a job whose process ended without saying how it ended.
INTERRUPTED = ("Interrupted: the program running this job stopped before the job ended "
               "(killed, crashed, or the computer went down). What it finished is kept; "
               "run it again to do the rest.")


@dataclass
class JobLock:
    """A running job's lock: the open lock file, and its name (see :func:`hold`)."""

    handle: IO[str]
    path: Path


def hold(root: Path, job: int) -> JobLock | None:
    """Take the lock of ``job`` of the project at ``root`` for as long as it runs, to
    hand to :func:`release`; None where no lock could be taken (a read-only project, no
    flock), and then the job is never marked interrupted."""
    if fcntl is None:
        return None
    handle = None
    try:
        folder = root / LOCKS
        # Not parents=True: a project folder moved meanwhile is not built again.
        folder.parent.mkdir(exist_ok=True)
        folder.mkdir(exist_ok=True)
        # Locked under another name, then given the name mark_interrupted looks for: a
        # lock file it found before the flock would have been taken for a dead job's.
        taking = folder / f"{job}.lock.taking"
        handle = open(taking, "a+", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path = folder / f"{job}.lock"
        os.replace(taking, path)  # the same file, its lock held
        return JobLock(handle, path)
    except OSError:
        if handle is not None:
            handle.close()
            with suppress(OSError):
                taking.unlink()
        return None


def release(lock: JobLock | None) -> None:
    """Remove a lock file :func:`hold` took (the job ended and its record says how),
    then let go of its lock."""
    if lock is None:
        return
    with suppress(OSError):
        lock.path.unlink()
    lock.handle.close()


def mark_interrupted(root: Path, db_path: Path) -> list[int]:
    """Record as failed (:data:`INTERRUPTED`) the jobs of the project at ``root`` (its
    store at ``db_path``) whose process is gone while their record says running; return
    their ids. Opens the store only when such a lock file lies there; a store that
    cannot be written (read-only, a newer schema) is left as it is, for the next open."""
    if fcntl is None:
        return []
    try:
        paths = sorted((root / LOCKS).glob("*.lock"))
    except OSError:
        return []
    orphans = [(path, handle) for path in paths if (handle := _take(path)) is not None]
    if not orphans:
        return []
    marked: list[int] = []
    try:
        # A short wait: another program's write (a CLI import) leaves it for the next open.
        with Store(db_path, busy_timeout=1.0, create=False) as store:
            for path, _ in orphans:
                job = int(path.stem) if path.stem.isdigit() else None
                row = store.job(job) if job is not None else None
                if job is not None and row is not None and row["state"] == "running":
                    store.finish_job(job, "failed", INTERRUPTED)
                    marked.append(job)
                with suppress(OSError):
                    path.unlink()  # marked, or its job ended: the lock file is done
    except (sqlite3.Error, StoreError):
        pass  # left for the next open: the lock files still there say which
    finally:
        for _, handle in orphans:
            handle.close()
    return marked


def _take(path: Path) -> IO[str] | None:
    """``path``'s lock, taken: its job's process is gone. None while that process holds
    it, or when the file went meanwhile (its job ended)."""
    assert fcntl is not None
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
