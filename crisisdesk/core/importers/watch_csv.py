"""A watched CSV that a collector keeps appending rows to, read from where the last look
stopped.

A collector that appends a row every second never lets the file's size hold still, so a
CSV read whole once its size is stable would wait for the end of the busy hour, and a
500,000-row file would be parsed again for each new row. Instead a CSV that only grew
(its first bytes and those before the offset unchanged: the fingerprint JSON Lines
offsets keep, :meth:`watch_format.Snapshot.anchor`) is read from the byte after the last
complete record, with the header kept from the file's start. The offset and the number
of that record (rows counted as a one-shot import counts them: the header is row 1) are
stored with the posts of the rows, so a crash neither loses nor repeats rows. A record is
complete at the end of the line that closes it: a quoted field may hold newlines, and a
last record without its newline is still being written (it waits, unless the file has
stayed the same for ``settle`` seconds: a file that ends without a final newline). A CSV
rewritten, replaced or shorter is read again from the start, as a sheet saved again
always was. UTF-16 files (no newline bytes to cut them at) are read whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crisisdesk.core.importers.job import BATCH
from crisisdesk.core.importers.records import Parsed, PostRecord, Problem, Where
from crisisdesk.core.importers.rows import RowReader
from crisisdesk.core.importers.tabular import (
    csv_header,
    csv_row,
    image_id_column,
    media_index_column,
    table_delimiter,
)
from crisisdesk.core.importers.textio import decode_text
from crisisdesk.core.store import Store
from crisisdesk.core.store.posts import WatchedFile

if TYPE_CHECKING:
    from crisisdesk.core.importers.watch import WatchJob, _Seen

#: A file's first line break: a lone \r is an old Mac file's, whose rows have no \n to
#: keep an offset at (read whole, as UTF-16 files are).
FIRST_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass
class CsvTable:
    """A watched CSV's separator and header row, kept between looks: ``body`` is the
    byte after the header; ``rows`` reads the rows and remembers the ids seen, to catch
    a post id given again with other content."""

    delimiter: str
    header: list[str]
    body: int
    rows: RowReader | None = None


@dataclass
class Records:
    """The complete records of the bytes read: each one's cells (or the csv error that
    made it unreadable) and the byte after it (None for one that ended at a lone
    carriage return: no offset to keep, its line goes on); ``not_utf8``: the index of
    the first record with a line read as Windows-1252, if any."""

    found: list[tuple[list[str] | csv.Error, int | None]]
    not_utf8: int | None = None
    body: int = 0  # where the rows read begin: past the header


class _Lines:
    """The lines fed to csv.reader, counting those it took: the reader asks for the next
    line only within a record, or to begin one, so ``over`` tells a record cut by the end
    of the bytes read from one that ended there."""

    def __init__(self, lines: list[str]) -> None:
        self.lines, self.taken, self.over = lines, 0, False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.taken == len(self.lines):
            self.over = True
            raise StopIteration
        self.taken += 1
        return self.lines[self.taken - 1]


def complete_records(data: bytes, start: int, delimiter: str, final: bool) -> Records:
    """The records that end in ``data`` (a file's bytes from byte ``start``), each with
    the byte after it. A record cut by the end of the data waits for the next look,
    unless ``final`` (the data end where the file does, and it has stayed so)."""
    pieces = data.split(b"\n")
    tail = pieces.pop()  # after the last newline: a line still being written
    raws = [piece + b"\n" for piece in pieces] + ([tail] if tail and final else [])
    lines: list[str] = []
    ends: list[int | None] = []  # per line fed: the byte after it, where a raw line ends
    bad: int | None = None
    position = start
    for raw in raws:
        text, warning = decode_text(raw)
        if warning and bad is None:
            bad = len(lines)
        # Split at a lone \r too, as the one-shot import's newline="" reading does; an
        # offset is only kept at a \n, where a collector's line ends.
        lone_cr = "\r" in text.removesuffix("\r\n")
        parts = io.StringIO(text, newline="").readlines() if lone_cr else [text]
        position += len(raw)
        lines.extend(parts)
        ends.extend([None] * (len(parts) - 1) + [position])
    feeder = _Lines(lines)
    reader = csv.reader(feeder, dialect="excel", delimiter=delimiter)
    found: list[tuple[list[str] | csv.Error, int]] = []  # (cells, lines taken by then)
    while True:
        try:
            values: list[str] | csv.Error = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            values = exc
        if feeder.over and not final:
            break  # a quoted field goes on past what was read: not whole yet
        found.append((values, feeder.taken))
    # A record that ended at a lone \r waits for the one that ends its line.
    while found and ends[found[-1][1] - 1] is None:
        found.pop()
    not_utf8 = None if bad is None else next(
        (at for at, (_, taken) in enumerate(found) if taken > bad), None)
    return Records([(values, ends[taken - 1]) for values, taken in found], not_utf8)


def read_table(file: str, data: bytes, default: str,
               final: bool) -> CsvTable | Problem | None:
    """The separator and header of a CSV from its first bytes (an Excel ``sep=;`` line
    before it names the separator); None while the header row is not whole yet."""
    first = data[:data.find(b"\n") + 1] or (data if final else b"")
    if not first:
        return None
    text, _ = decode_text(first)
    rest, delimiter = table_delimiter(text, default)
    skip = len(first) if rest != text else 0  # the sep= line is no row
    records = complete_records(data[skip:], skip, delimiter, final).found
    if not records:
        return None
    header, body = records[0]
    if isinstance(header, csv.Error):
        return Problem(Where(file, 1), f"unreadable header row: {header}")
    return CsvTable(delimiter, header, body) if body is not None else None


def settled(seen: _Seen, size: int, mtime: float, settle: float) -> bool:
    """Whether a file has looked the same (size and mtime) for ``settle`` seconds of
    looks; a change starts the wait again."""
    now = time.monotonic()
    if (size, mtime) != (seen.size, seen.mtime):
        seen.size, seen.mtime, seen.tail_since = size, mtime, now
        return False
    return now - seen.tail_since >= settle


def say_once(problems: list[Problem], reported: int, notes: set[str]) -> None:
    """Keep of ``problems[reported:]`` those not said before for the file (``notes``):
    a file read again from the start gives its old rows' problems again."""
    fresh = []
    for problem in problems[reported:]:
        if f"problem:{problem}" not in notes:
            notes.add(f"problem:{problem}")
            fresh.append(problem)
    problems[reported:] = fresh


def poll_csv(job: WatchJob, store: Store, path: Path, state: WatchedFile, size: int,
             mtime: float, seen: _Seen, replaced: bool) -> bool:
    """Import the rows appended to a watched CSV since the last look; False for a file
    that cannot be read from an offset (UTF-16), which the caller reads whole."""
    offset, line = state.offset, state.line
    read = job._read(path, min(offset, size), size)
    if read.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or \
            FIRST_BREAK.findall(read.head)[:1] == [b"\r"]:
        return False  # before any commit: the caller reads it whole once it holds still
    if offset and (replaced or size < offset or read.anchor(offset) != state.anchor):
        # Rewritten (a sheet saved again), replaced or truncated: read from the start;
        # kept at once, so that no later look trusts the old offset.
        seen.table = seen.looked = None
        offset = line = 0
        job._commit(store, [], state, 0, 0, size, mtime, None)
        read = job._read(path, 0, size)
    if size == offset or seen.looked == (size, mtime):
        return True
    start, data = offset, read.data[offset - read.start:]
    if offset and read.data[offset - read.start - 1:offset - read.start] != b"\n":
        # A last row taken without its newline (the file had stayed so): the newline
        # written since ends no row of its own.
        cut = 2 if data.startswith(b"\r\n") else 1 if data.startswith(b"\n") else 0
        start, data = offset + cut, data[cut:]
    reported = len(job.report.problems)
    whole = _whole_records(job, path, seen, start, data, size, mtime,
                           at_end=read.start + len(read.data) >= size)
    table = seen.table
    if whole is not None and table is not None:
        rows = _rows(job, store, path, table)
        if rows is None:
            seen.looked = (size, mtime)  # a column missing: said once, nothing read
        elif whole.found or whole.body > offset:
            number, batch, end = max(line, 1), [], whole.body
            for at, (values, ended) in enumerate(whole.found):
                number += 1
                for entry in _row_entries(rows, table.header, values, number,
                                          at == whole.not_utf8):
                    if isinstance(entry, PostRecord):
                        batch.append(entry)
                    else:
                        job.report.problems.append(entry)
                end = ended if ended is not None else end
                if len(batch) >= BATCH and ended is not None:
                    job._commit(store, batch, state, end, number, size, mtime,
                                read.anchor(end))
                    batch = []
            job._commit(store, batch, state, end, number, size, mtime, read.anchor(end))
    say_once(job.report.problems, reported, seen.notes)
    return True


def _whole_records(job: WatchJob, path: Path, seen: _Seen, start: int, data: bytes,
                   size: int, mtime: float, at_end: bool) -> Records | None:
    """The whole records of ``data`` (the file from ``start``), the header read first
    when not known yet; those cut by the end of the file too once it has stayed the
    same for ``settle`` seconds. None when none is whole, or the header is unreadable
    (said, and not tried again before the file changes)."""
    for final in (False, True):
        if final and not (at_end and settled(seen, size, mtime, job.watch.settle)):
            return None
        if seen.table is None:
            # A new watch on a file read before: its header from the file's start.
            head = data if start == 0 else job._read(path, 0, min(start, 1 << 20)).data
            table = read_table(str(path), head,
                               "\t" if path.suffix.lower() == ".tsv" else ",",
                               final or start > 0)
            if isinstance(table, Problem):
                job.report.problems.append(table)
                seen.looked = (size, mtime)
                return None
            seen.table = table
        if seen.table is not None:
            body = max(start, seen.table.body)
            records = complete_records(data[body - start:], body, seen.table.delimiter,
                                       final)
            if records.found or body > start or final:
                records.body = body
                return records
    return None


def _row_entries(rows: RowReader, header: list[str], values: list[str] | csv.Error,
                 number: int, not_utf8: bool) -> Iterator[Parsed]:
    """The record and problems of row ``number``; ``not_utf8``: the first row of the
    look with a line read as Windows-1252."""
    if not_utf8:
        yield Problem(Where(rows.file, number), "not valid UTF-8 from this row on; such "
                      "lines read as Windows-1252, check accented characters", "warning")
    if isinstance(values, csv.Error):
        yield Problem(Where(rows.file, number), f"malformed CSV: {values}; row skipped")
    else:
        yield from csv_row(rows, header, values, number)


def _rows(job: WatchJob, store: Store, path: Path, table: CsvTable) -> RowReader | None:
    """The row reader of a watched CSV, with the columns its header gives for the
    project's tasks as they are now (one added while the watch runs is read from the
    next look); None, with the problem said, when a column is missing."""
    schemes = store.schemes()
    problems, chosen = csv_header(str(path), table.header, job.options.mapping, schemes)
    job.report.problems.extend(problems)
    if chosen is None:
        return None
    if table.rows is None:
        defaults = {"event": job.options.event, "platform": job.options.platform}
        table.rows = RowReader(str(path), job.options.images_root or path.parent, {}, {},
                               defaults, media_index_column(table.header), schemes,
                               image_id_column(table.header))
    table.rows.columns, table.rows.labels = chosen
    table.rows.schemes = schemes
    return table.rows
