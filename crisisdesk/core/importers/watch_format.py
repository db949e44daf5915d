"""How the folder watch reads a collector's file: which format it is, where a line that
is too long ends, and whether a file was rewritten rather than grown.

Kept apart from :mod:`crisisdesk.core.importers.watch`, which polls the folder and
imports; these functions only look at bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crisisdesk.core.importers.collectors import classify
from crisisdesk.core.importers.jsonsource import first_value_in, is_document, split_lines
from crisisdesk.core.importers.textio import decode_text

ANCHOR = 4096  # bytes at a file's start and before its offset, to notice it rewritten


def file_format(path: Path, max_read: int) -> str | None:
    """How a new file is read: by lines (``lines-<format>``), whole (``whole-<format>``),
    ``ignored``, or None while it holds no complete line yet. ``max_read``: the most bytes
    read at once."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "whole-csv"
    with path.open("rb") as handle:
        head = handle.read(max_read)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return _utf16_format(head, whole=len(head) < max_read)
        if b"\n" not in head and len(head) >= max_read:
            # A first line longer than a read: the next line tells the format
            # (_poll_lines reports and skips the long one).
            end = newline_after(handle, len(head))
            if end is None:
                return None
            handle.seek(end + 1)
            head = handle.read(max_read)
    if b"\n" not in head.lstrip():
        return None  # no complete line yet
    text, _ = decode_text(head[:head.rfind(b"\n") + 1])
    if is_document(text):
        # From the bytes already read (not cut at their last newline: a small document
        # may end without one), not by reading the file again.
        fmt = classify(first_value_in(head.decode("utf-8-sig", errors="replace"),
                                      whole=len(head) < max_read))
        if fmt is not None:
            return f"whole-{fmt}"
        return "whole-jsonl" if suffix == ".json" else "ignored"
    for line in split_lines(text):
        try:
            value = json.loads(line)
        except ValueError:
            continue  # blank, or a broken first line (reported when read)
        return f"lines-{classify(value) or 'jsonl'}"
    return None


def newline_after(handle: BinaryIO, position: int) -> int | None:
    """Where the first newline at or after ``position`` is, read in chunks (a line
    longer than a read is never held whole); None while there is none yet."""
    handle.seek(position)
    while chunk := handle.read(1 << 20):
        if (at := chunk.find(b"\n")) >= 0:
            return position + at
        position += len(chunk)
    return None


@dataclass(frozen=True)
class Snapshot:
    """The bytes of a file that one look read: its first :data:`ANCHOR` bytes (``head``)
    and those from ``start`` on (``data``). The fingerprint kept with an offset is taken
    from them, the very bytes parsed: read again at commit time, it would describe a
    file rewritten meanwhile, and the next look would trust the old offset in it."""

    head: bytes
    start: int
    data: bytes

    def anchor(self, offset: int) -> str | None:
        """The fingerprint (sha256) at ``offset``: of the file's first bytes and those
        just before ``offset``, still the same when lines were only appended (collectors'
        lines end alike, so the end alone is not). Hashed: it is kept in the project.
        None when the read ended before ``offset`` (the file got shorter meanwhile: the
        next look reads it again from the start anyway)."""
        end = offset - self.start
        assert self.start == 0 or end >= ANCHOR, "an offset before the bytes read"
        if end > len(self.data):
            return None
        before = self.data[max(end - ANCHOR, 0):end]
        return hashlib.sha256(self.head[:min(offset, ANCHOR)] + before).hexdigest()


def snapshot(handle: BinaryIO, offset: int, end: int) -> Snapshot:
    """Read an open file for a look that goes on from ``offset``: its head, and the
    bytes from :data:`ANCHOR` before ``offset`` up to ``end``, so that the fingerprint at
    ``offset`` and at every later offset read can be taken from them."""
    start = max(offset - ANCHOR, 0)
    handle.seek(0)
    head = handle.read(ANCHOR) if start else b""
    handle.seek(start)
    data = handle.read(max(end - start, 0))
    return Snapshot(head if start else data[:ANCHOR], start, data)


def _utf16_format(head: bytes, whole: bool) -> str:
    """How a UTF-16 file is read: whole (its lines do not end at a newline byte, so
    they cannot be read from an offset), as the format of its first JSON value.
    ``whole``: the head is all of the file."""
    text = head[:len(head) // 2 * 2].decode("utf-16", errors="replace")
    return f"whole-{classify(first_value_in(text, whole)) or 'jsonl'}"
