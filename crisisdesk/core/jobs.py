"""The job runtime: running a long job's generator with a record in the store.

A job body is a generator yielding :class:`~crisisdesk.core.progress.Progress` after
each unit of work it has committed. ``tracked`` wraps it: the job row records kind,
parameters, counts and how it ended (done, cancelled, failed with the error). Closing the
wrapper (``close()``: the GUI's cancel button, Ctrl+C in the CLI) stops the body at its
next yield, with everything committed so far kept; running the job again does only what
is missing, because every job skips work whose results are already stored.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from crisisdesk.core.job_locks import hold, release
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project

#: Items a job's report lists by name (a whole unplugged drive would list them all);
#: the report counts every one.
MAX_LISTED = 200


def listed(rows: list[dict[str, str]], row: dict[str, str]) -> None:
    """Append ``row`` to a report's list while it holds fewer than MAX_LISTED."""
    if len(rows) < MAX_LISTED:
        rows.append(row)


def named(rows: list[dict[str, str]], count: int, limit: int = 3) -> str:
    """The first ``limit`` of a report's ``rows`` as "path (reason)", and how many more
    of ``count``: a note of the app's jobs panel names a few, never a drive's worth."""
    shown = "; ".join(f"{row['path']} ({row['reason']})" for row in rows[:limit])
    return shown + (f"; and {count - limit} more" if count > limit else "")


def tracked(project: Project, kind: str, params: dict[str, Any],
            body: Iterator[Progress], problems: Callable[[], int] = lambda: 0,
            result: Callable[[], dict[str, Any]] = dict,
            started: Callable[[int], None] = lambda _job: None) -> Iterator[Progress]:
    """Run ``body`` with a job record; re-raise what it raises after recording it.

    ``problems`` and ``result`` are read as the job goes and when it ends: the count of
    item-level problems, and a JSON-able summary stored with the job. ``started`` is
    told the record's id (its row in the jobs table) once it is written.
    """
    with project.open_store() as store:
        job = store.start_job(kind, params)
        started(job)
        # Held while the job runs: a job whose process is killed is told from one still
        # running when the project is next opened (its record said "running" for ever).
        lock = hold(project.root, job)
        state, error = "done", None
        try:
            for progress in body:
                store.update_job(job, done=progress.done, total=progress.total,
                                 problems=problems())
                yield progress
        except (GeneratorExit, KeyboardInterrupt):
            state = "cancelled"
            raise
        except BaseException as exc:
            state, error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            try:
                body.close()  # ends the body at its yield: its own finally clauses run
                store.finish_job(job, state, error, result())
            finally:
                release(lock)


def give_back_freed_memory() -> None:
    """Hand the heap memory freed by a job that just ended back to the system (glibc's
    ``malloc_trim``; nothing elsewhere).

    glibc keeps what a process freed in its arenas, mostly for good: in the app a
    retrain's peak stacked on what the embed before it had freed (bench/gui_bench.py:
    ~60 MB given back after an embed, ~45 MB after a retrain). Call it where a long job
    ended and its objects are gone, or after each of a job's batches whose buffers vary
    in size (the text embed's), on that job's thread: the call takes milliseconds and
    ctypes lets go of the GIL meanwhile, so the UI thread is not held up.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        if "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""):
            return  # musl and others: no malloc_trim
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, ValueError, AttributeError):
        return  # a libc that does not say, or has no malloc_trim: nothing to give back
