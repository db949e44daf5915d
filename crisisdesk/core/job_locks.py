"""Telling a job whose process was killed from a job still running.

A job recorded as running in the jobs table stays so when its process dies without its
``finally`` (SIGKILL, a crash, a power cut). While it runs, its process holds an OS lock
(``flock``) on ``cache/jobs/<job id>.lock``; the system lets go of that lock however the
process ends. So a lock file that can be taken belongs to a job whose process is gone:
:func:`mark_interrupted` (run when a project is opened) records such a job as failed,
interrupted. A job running in another window or process holds its lock and is left alone.
A job killed while it took its lock left ``<job>.lock.taking`` (see :func:`hold`): one
that can be taken and is older than :data:`TAKING_STALE_AFTER` is a dead job's too.
A job killed before lock files existed left no file at all: a running record without
one, started before :data:`LOCK_FILES_SINCE`, is marked so too, where locks can be taken
in the project (else jobs run there without them). Where there is no ``flock``
(Windows), nothing is marked, and a later record without a lock file is never taken for
a dead job's: it may be a live job of a Windows computer sharing the project folder.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from crisisdesk.core.store import Store
from crisisdesk.core.store.queries import running_jobs
from crisisdesk.core.store.schema import StoreError
from crisisdesk.core.store.times import store_time

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
#: When crisisdesk's jobs began to take lock files (UTC): a running record without one
#: started before is a job killed before then. One started since may be a live job that
#: takes none (a Windows computer's on a shared folder): it is left alone.
LOCK_FILES_SINCE = datetime(2026, 11, 28, 13, 44, tzinfo=UTC)
#: And at least this old: a job takes its lock a moment after writing its record, and
#: two computers sharing the project folder may disagree on the time.
LOCKLESS_AFTER = timedelta(minutes=10)
#: The name a lock file has while its job takes the lock (:func:`hold`).
TAKING = ".lock.taking"
#: How old a ``.lock.taking`` file nobody holds a lock on must be to be a dead job's.
#: A starting job locks it in the statement after making it, then renames it: a live
#: job's is unlocked only for that instant, unless its program was stopped right there
#: (suspended, swapped out). Its time is the file server's where the folder is shared,
#: whose clock may differ from this computer's: the same margin as LOCKLESS_AFTER.
TAKING_STALE_AFTER = LOCKLESS_AFTER


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
        taking = folder / f"{job}{TAKING}"
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
    their ids. Those are the jobs whose lock file can be taken, and (where locks can be
    taken here) those started before :data:`LOCK_FILES_SINCE` with no lock file at all,
    and those killed while taking their lock (a stale ``.lock.taking``, see
    :data:`TAKING_STALE_AFTER`).
    Opens the store only when there are such jobs; a store that cannot be written
    (read-only, a newer schema) is left as it is, for the next open."""
    if fcntl is None:
        return []
    folder = root / LOCKS
    try:
        paths = sorted(folder.glob("*.lock")) + [
            path for path in sorted(folder.glob(f"*{TAKING}")) if _stale(path)]
    except OSError:
        return []
    orphans = [(path, handle) for path in paths if (handle := _take(path)) is not None]
    before = store_time(min(datetime.now(UTC) - LOCKLESS_AFTER, LOCK_FILES_SINCE).isoformat())
    lockless = [job for job in running_jobs(db_path, before) if not _has_lock(folder, job)]
    if lockless and not _locks_work(folder):
        lockless = []
    if not orphans and not lockless:
        return []
    marked: list[int] = []
    try:
        # A short wait: another program's write (a CLI import) leaves it for the next open.
        with Store(db_path, busy_timeout=1.0, create=False) as store:
            for path, _ in orphans:
                stem = path.name.removesuffix(TAKING).removesuffix(".lock")
                job = int(stem) if stem.isdigit() else None
                row = store.job(job) if job is not None else None
                if job is not None and row is not None and row["state"] == "running":
                    store.finish_job(job, "failed", INTERRUPTED)
                    marked.append(job)
                with suppress(OSError):
                    path.unlink()  # marked, or its job ended: the lock file is done
            for job in lockless:
                # Written while no other write can land: a job ending meanwhile writes
                # its end before it removes its lock file, so a record still running
                # here with no lock file is a dead job's, never one that just ended.
                with store.transaction():
                    row = store.job(job)
                    if row is not None and row["state"] == "running" and not _has_lock(
                            folder, job):
                        store.finish_job(job, "failed", INTERRUPTED)
                        marked.append(job)
    except (sqlite3.Error, StoreError):
        pass  # left for the next open: the lock files still there say which
    finally:
        for _, handle in orphans:
            handle.close()
    return marked


def _has_lock(folder: Path, job: int) -> bool:
    """Whether ``job`` has a lock file (or one being taken, see :func:`hold`)."""
    return any((folder / name).exists() for name in (f"{job}.lock", f"{job}{TAKING}"))


def _stale(path: Path) -> bool:
    """Whether the ``.lock.taking`` file ``path`` is older than :data:`TAKING_STALE_AFTER`
    (one from a clock ahead of this one's is not, until it is)."""
    try:
        made = path.stat().st_mtime
    except OSError:
        return False  # gone meanwhile: its job took its lock (renamed it) or gave up
    return datetime.now(UTC).timestamp() - made > TAKING_STALE_AFTER.total_seconds()


def _locks_work(folder: Path) -> bool:
    """Whether a lock can be taken in ``folder`` (made if missing, as a job makes it):
    where it cannot (a read-only project, a drive without flock), jobs run with no lock
    file, and a running record without one may be a live job's."""
    assert fcntl is not None
    probe = folder / f"probe-{os.getpid()}-{threading.get_ident()}"
    try:
        folder.parent.mkdir(exist_ok=True)
        folder.mkdir(exist_ok=True)
        with open(probe, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        with suppress(OSError):
            probe.unlink()


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
