"""A watched file read whole: a JSON document (a collector's export), a UTF-16 or old-Mac
CSV, a JSON Lines file in an encoding with no newline bytes to cut it at.

Such a file has no offset to read on from, so it is imported once its size and time have
stayed the same for one look (a writer may still be at it), and again, whole, each time
it changes: the writer adds only what is new, and the posts already stored stay as they
are. The problems of its old rows, found again at each read, are said once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crisisdesk.core.importers.collectors import parse_collector
from crisisdesk.core.importers.job import BATCH
from crisisdesk.core.importers.records import PostRecord, Problem
from crisisdesk.core.importers.tabular import parse_csv, parse_jsonl
from crisisdesk.core.importers.watch_csv import say_once
from crisisdesk.core.store import Store
from crisisdesk.core.store.posts import WatchedFile

if TYPE_CHECKING:
    from crisisdesk.core.importers.watch import WatchJob, _Seen


def poll_whole(job: WatchJob, store: Store, path: Path, state: WatchedFile, size: int,
               mtime: float, seen: _Seen) -> None:
    """Import ``path`` whole if it changed since it was read and held still since the
    last look (``seen``); its state then moves to the size and time read."""
    if (size, mtime) == (state.size, state.mtime):
        return
    if (size, mtime) != (seen.size, seen.mtime):
        seen.size, seen.mtime = size, mtime  # changed since the last poll: wait
        return
    fmt = state.format.removeprefix("whole-")
    reported = len(job.report.problems)
    defaults = {"event": job.options.event, "platform": job.options.platform}
    base = job.options.images_root or path.parent
    if fmt == "csv":
        entries = parse_csv(path, base, job.options.mapping, defaults, store.schemes())
    elif fmt == "jsonl":
        entries = parse_jsonl(path, base, job.options.mapping, defaults, store.schemes())
    else:
        entries = parse_collector(path, fmt, defaults)
    batch: list[PostRecord] = []
    for entry in entries:
        if isinstance(entry, PostRecord):
            batch.append(entry)
        elif isinstance(entry, Problem):
            job.report.problems.append(entry)
        if len(batch) >= BATCH:
            job._writer_for(store).write_batch(batch)  # one transaction of its own
            batch = []
    job._commit(store, batch, state, size, 0, size, mtime, None)
    # Read whole again at each change: its old rows' problems are said once.
    say_once(job.report.problems, reported, seen.notes)
