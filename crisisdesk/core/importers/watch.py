"""A watched folder: import new and grown collector files until stopped.

``WatchJob(project, folder, options).run()`` is a generator that polls the folder (every
``interval`` seconds), yields Progress after each poll, and runs until it is closed
(Ctrl-C in the CLI, the GUI's cancel). JSON Lines files (twarc2, Mastodon, Bluesky
pages, plain JSONL posts) are read from where the last poll stopped: the byte after the
last complete line, stored per file in the project (``watch_files``) in the same
transaction as the posts of those lines, so a crash neither loses nor repeats lines,
with a fingerprint of the file there, so a file rewritten in place (even while no watch
ran) is read again from the start rather than from the old offset. A last line without
its newline is being written: it waits (unless it has stayed the same for ``settle``
seconds and is whole JSON: a collector that ended without a final newline). A CSV is
read the same way, by records, with its header kept (:mod:`watch_csv`). Other files (a
JSON document, a UTF-16 CSV) are imported whole once their size has stayed the same for
one poll, and again when they change (the writer adds only what is new:
:mod:`watch_whole`). With fetch limits, media of new posts are fetched after each poll;
those a fetch's total size limit left, at the next poll.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crisisdesk.core.files import save_report
from crisisdesk.core.imaging import IMAGE_SUFFIXES
from crisisdesk.core.importers.collectors import ValueParser, value_parser
from crisisdesk.core.importers.job import BATCH, ImportOptions
from crisisdesk.core.importers.jsonsource import (
    json_lines,
)
from crisisdesk.core.importers.naming import derived_source_name
from crisisdesk.core.importers.records import (
    ImportReport,
    Parsed,
    PostRecord,
    Problem,
    Where,
    shown_name,
    unstorable_name,
)
from crisisdesk.core.importers.tabular import JsonlRows
from crisisdesk.core.importers.textio import decode_text
from crisisdesk.core.importers.watch_csv import CsvTable, poll_csv, settled
from crisisdesk.core.importers.watch_format import (
    Snapshot,
    file_format,
    newline_after,
    snapshot,
)
from crisisdesk.core.importers.watch_whole import poll_whole
from crisisdesk.core.importers.writer import RecordWriter
from crisisdesk.core.jobs import tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import Store
from crisisdesk.core.store.posts import WatchedFile

if TYPE_CHECKING:
    from crisisdesk.core.media_fetch import FetchLimits

MAX_READ = 16 * 1024 * 1024  # bytes read from one file per poll: memory stays bounded
SKIP_SUFFIXES = IMAGE_SUFFIXES | {".part", ".tmp", ".partial", ".crdownload", ".zip"}


@dataclass
class WatchOptions:
    """How a folder is watched."""

    interval: float = 2.0
    settle: float = 10.0
    fetch: FetchLimits | None = None  # fetch the media of new posts after each poll


@dataclass
class _Seen:
    """What the last poll saw of a file (in memory: stability and unfinished tails)."""

    size: int = -1
    mtime: float = -1.0
    tail_since: float = 0.0
    file_id: tuple[int, int] | None = None  # (device, inode): a new one is a new file
    parser: ValueParser | None = None
    notes: set[str] = field(default_factory=set)
    table: CsvTable | None = None  # a CSV's header, read by records
    looked: tuple[int, float] | None = None  # (size, mtime) of a CSV that cannot be read


class WatchJob:
    """Import what collectors append to the files of a folder, until closed."""

    kind = "import-watch"

    def __init__(self, project: Project, folder: Path, options: ImportOptions | None = None,
                 watch: WatchOptions | None = None) -> None:
        self.project, self.folder = project, Path(folder).absolute()
        self.options = options or ImportOptions()
        self.watch = watch or WatchOptions()
        self.source = self.options.source or self._derived_source()
        self.report = ImportReport()
        self.report_path: Path | None = None
        self.report_not_saved = ""  # why the report could not be written, if it could not
        self.polls = 0
        self._seen: dict[str, _Seen] = {}
        self._writer: RecordWriter | None = None
        self._left_to_fetch = 0  # left by a look's size limit: the next look fetches them

    def _derived_source(self) -> str:
        """The folder's name as a source name, as a one-shot import of it names it (a
        name kept from before, or one another folder's name folds to, looked up)."""
        with self.project.open_store() as store:
            return derived_source_name(store, self.folder, self.folder.name, "watch")

    def run(self) -> Iterator[Progress]:
        """Poll until closed, yielding progress after every poll."""
        params = {"folder": str(self.folder), "source": self.source,
                  "interval": self.watch.interval}
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: len(self.report.problems),
                       result=self.report.counts)

    def _run(self) -> Iterator[Progress]:
        store = self.project.open_store()
        try:
            if not self.folder.exists():
                raise FileNotFoundError(f"{self.folder}: no such folder or file")
            while True:
                media_before = self.report.media_added.get("remote", 0)
                for path in self._files():
                    try:
                        self._poll_file(store, path)
                    except OSError as exc:  # not ours to read, or gone since its stat
                        self._unreadable(path, exc)
                self.polls += 1
                notes: tuple[str, ...] = ()
                new_media = self.report.media_added.get("remote", 0) > media_before
                if self.watch.fetch is not None and (new_media or self._left_to_fetch):
                    notes = self._fetch()
                # No total: a watch goes on until cancelled, and done == total read as
                # finished (a full bar, "ETA 0:00", "100%" in the log) while it watched.
                yield Progress(self.report.records, 0,
                               f"watching {self.folder.name}: "
                               f"{self.report.posts_added} new posts", notes=notes)
                time.sleep(self.watch.interval)
        except (GeneratorExit, KeyboardInterrupt):
            self.report.cancelled = True
            raise
        finally:
            if self._writer is not None:
                self._writer.close()
            self.report_path, self.report_not_saved = save_report(
                lambda: self.project.folder("reports"), "watch", self.report.to_json())
            store.close()

    def _files(self) -> list[Path]:
        if self.folder.is_file():
            return [self.folder]
        return sorted(p for p in self.folder.rglob("*") if p.is_file()
                      and not p.name.startswith(".") and p.suffix.lower() not in SKIP_SUFFIXES)

    def _fetch(self) -> tuple[str, ...]:
        """Fetch the media still remote; the line saying the size limit stopped it, if so."""
        # Imported here: media_fetch imports the importers package, which imports this.
        from crisisdesk.core.media_fetch import MediaFetchJob

        job = MediaFetchJob(self.project, self.watch.fetch)
        for _ in job.run():
            pass
        self.report.problems.extend(job.report.problems)
        self._left_to_fetch = job.report.left_to_fetch
        if not job.report.total_limit_reached:
            return ()
        said = "media fetch: " + job.report.limit_text(
            "this look's", "the next look at the folder fetches them")
        # A warning, not an error: a limit reached is no failure (exit 0), as in media fetch.
        self.report.add(Where(str(self.folder)), said, "warning")
        return (said,)

    def _writer_for(self, store: Store) -> RecordWriter:
        if self._writer is None:
            warning = store.ensure_source(self.source, "watch", str(self.folder))
            if warning:
                self.report.add(Where(str(self.folder)), warning, "warning")
            self.report.sources.append({"path": str(self.folder), "format": "watch",
                                        "name": self.source})
            self._writer = RecordWriter(store, self.source, self.report,
                                        self.options.image_limits, self.options.workers)
        return self._writer

    def _unreadable(self, path: Path, exc: OSError) -> None:
        """Report a file the watch cannot read, once per reason: it is tried again at
        each look, and one bad file does not stop the watch."""
        if isinstance(exc, FileNotFoundError):
            return  # removed since its stat, like one removed since the listing
        why = exc.strerror or str(exc)
        seen = self._seen.setdefault(str(path), _Seen())
        if f"unreadable:{why}" not in seen.notes:
            seen.notes.add(f"unreadable:{why}")
            self.report.add(Where(str(path)), f"cannot read: {why}; tried again at each look")

    def _poll_file(self, store: Store, path: Path) -> None:
        key = str(path)
        if why := unstorable_name(path):  # said once; the rest of the folder goes on
            seen = self._seen.setdefault(key, _Seen())
            if "unstorable" not in seen.notes:
                seen.notes.add("unstorable")
                self.report.add(Where(shown_name(path)), why)
            return
        try:
            stat = path.stat()
        except OSError:
            return  # removed since the listing
        seen = self._seen.setdefault(key, _Seen())
        file_id = (stat.st_dev, stat.st_ino)
        replaced = seen.file_id is not None and seen.file_id != file_id
        seen.file_id = file_id
        state = store.watched_file(key)
        if state is None:
            fmt = file_format(path, MAX_READ)
            if fmt is None:
                return  # nothing whole to judge yet
            state = WatchedFile(key, self.source, fmt, 0, 0, 0, 0.0)
            if fmt == "ignored":
                with store.transaction():
                    store.set_watched_file(state)
                self.report.add(Where(key), "not a format the watch reads (JSON Lines, a "
                                "JSON document, CSV); ignored", "warning")
                return
        if state.format == "ignored":
            return
        # "whole-csv": the name from when CSVs were read whole, kept in projects.
        if state.format == "whole-csv" and poll_csv(self, store, path, state, stat.st_size,
                                                     stat.st_mtime, seen, replaced):
            return
        if state.format.startswith("whole-"):
            poll_whole(self, store, path, state, stat.st_size, stat.st_mtime, seen)
        else:
            self._poll_lines(store, path, state, stat.st_size, stat.st_mtime, seen, replaced)

    def _parser(self, store: Store, path: Path, fmt: str, seen: _Seen) -> ValueParser:
        if seen.parser is None:
            defaults = {"event": self.options.event, "platform": self.options.platform}
            seen.parser = (JsonlRows(str(path), self.options.images_root or path.parent,
                                     self.options.mapping, defaults, store.schemes())
                           if fmt == "jsonl" else value_parser(fmt, str(path), defaults))
        elif isinstance(seen.parser, JsonlRows):
            seen.parser.use_schemes(store.schemes())
        return seen.parser

    def _poll_lines(self, store: Store, path: Path, state: WatchedFile, size: int,
                    mtime: float, seen: _Seen, replaced: bool = False) -> None:
        offset, line = state.offset, state.line
        restart = read = None
        if replaced and offset:
            # Renamed over the old one: a longer new file would otherwise be read from
            # the old offset, mid-line, and its first lines never.
            restart = "file was replaced (a new file under the same name)"
        elif size < offset:
            restart = "file is shorter than what was read (replaced or truncated?)"
        elif offset and state.anchor and (size, mtime) != (state.size, state.mtime):
            read = self._read(path, offset, size)
            if read.anchor(offset) != state.anchor:
                # Truncated and written again, longer, between two looks or while no
                # watch ran (the anchor is kept in the project): the old offset would
                # skip the new file's first lines and start mid-line.
                restart, read = "file was rewritten (what was read is no longer there)", None
        if restart:
            self.report.add(Where(str(path)), f"{restart}; reading it again from the "
                            "start", "warning")
            offset = line = 0
            # Kept at once: the new file's first line may not be whole yet.
            self._commit(store, [], state, 0, 0, size, mtime, None)
        if size == offset:
            return
        read = read or self._read(path, offset, size)
        # From the byte before the offset: whether a newline ends the line taken last.
        data = read.data[max(offset - 1, 0) - read.start:]
        if offset > 0:
            # A last line taken without its newline: the newline now ending it is no line.
            ended = data[:1] == b"\n"
            data = data[1:]
            if not ended and data.startswith(b"\n"):
                data, offset = data[1:], offset + 1
        cut = data.rfind(b"\n") + 1
        complete, tail = data[:cut], data[cut:]
        if not cut and offset + len(data) < size:
            # A line longer than a read: skipped once its end is written, so that the
            # lines after it are not held up for ever.
            with path.open("rb") as handle:
                end = newline_after(handle, offset + len(data))
                if end is None:
                    return
                # Read for the fingerprint: the bytes read hold none of the line's end.
                anchor = snapshot(handle, end + 1, end + 1).anchor(end + 1)
            self.report.add(Where(str(path), line + 1), f"a line longer than "
                            f"{MAX_READ // (1024 * 1024)} MB; line skipped")
            self._commit(store, [], state, end + 1, line + 1, size, mtime, anchor)
            return
        if tail and self._tail_is_final(tail, size, mtime, seen, offset + len(data) >= size):
            complete, tail = data + b"\n", b""
        if not complete:
            return
        text, warning = decode_text(complete)
        if warning and "encoding" not in seen.notes:
            seen.notes.add("encoding")
            self.report.add(Where(str(path)), warning, "warning")
        parser = self._parser(store, path, state.format.removeprefix("lines-"), seen)
        batch: list[PostRecord] = []
        position = offset
        for number, raw in enumerate(complete.split(b"\n")[:-1], start=line + 1):
            position += len(raw) + 1
            for entry in self._entries(parser, str(path), number, raw):
                if isinstance(entry, PostRecord):
                    batch.append(entry)
                elif isinstance(entry, Problem):
                    self.report.problems.append(entry)
            line = number
            if len(batch) >= BATCH:
                self._commit(store, batch, state, min(position, size), line, size, mtime,
                             read.anchor(min(position, size)))
                batch = []
        self._commit(store, batch, state, min(position, size), line, size, mtime,
                     read.anchor(min(position, size)))

    @staticmethod
    def _read(path: Path, offset: int, size: int) -> Snapshot:
        """One read of a file for a look from ``offset``: the lines after it (at most
        MAX_READ bytes) and the bytes that the fingerprints are taken from."""
        with path.open("rb") as handle:
            return snapshot(handle, offset, min(size, max(offset - 1, 0) + MAX_READ))

    @staticmethod
    def _entries(parser: ValueParser, file: str, number: int, raw: bytes) -> Iterator[Parsed]:
        text, _ = decode_text(raw)
        for value in json_lines(file, [(number, text)]):
            if isinstance(value, Problem):
                yield value
            else:
                yield from parser.feed(*value)

    def _tail_is_final(self, tail: bytes, size: int, mtime: float, seen: _Seen,
                       at_end: bool) -> bool:
        """Whether an unterminated last line is whole: the same for ``settle`` seconds
        and a JSON value by itself (a half-written line never parses)."""
        if not settled(seen, size, mtime, self.watch.settle) or not at_end:
            return False
        try:
            json.loads(decode_text(tail)[0])
        except ValueError:
            return False
        return True

    def _commit(self, store: Store, batch: list[PostRecord], state: WatchedFile,
                offset: int, line: int, size: int, mtime: float, anchor: str | None) -> None:
        """Write a batch and move the file's offset past its lines, all or nothing, with
        the file's fingerprint there (``anchor``: checked at the next look, even by
        another watch; None for a file read whole)."""
        new = WatchedFile(state.path, state.source, state.format, offset, line, size, mtime,
                          anchor)
        writer = self._writer_for(store) if batch else None
        # The photos are read before the write lock is taken: every other writer (the
        # app's labels) would wait for a batch of them, or fail at its busy timeout.
        facts = writer.inspect(batch) if writer else {}
        with store.transaction():
            if writer:
                writer.write_batch(batch, facts)
            store.set_watched_file(new)
