"""How the folder watch reads a collector's file: which format it is, where a line that
is too long ends, and whether a file was rewritten rather than grown.

Kept apart from :mod:`crisisdesk.core.importers.watch`, which polls the folder and
imports; these functions only look at bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path
from typing import BinaryIO

from crisisdesk.core.importers.collectors import classify
from crisisdesk.core.importers.jsonsource import first_value, is_document, split_lines
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
            return _utf16_format(head)
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
        fmt = classify(first_value(path))
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


def anchor_of(path: Path, offset: int) -> str:
    """A fingerprint (sha256) of a file's first bytes and those just before ``offset``:
    still the same when lines were only appended (collectors' lines end alike, so the
    end alone is not). Kept with the offset, hence hashed: small in the project."""
    with path.open("rb") as handle:
        head = handle.read(min(offset, ANCHOR))
        handle.seek(max(offset - ANCHOR, 0))
        return hashlib.sha256(head + handle.read(min(offset, ANCHOR))).hexdigest()


def _utf16_format(head: bytes) -> str:
    """How a UTF-16 file is read: whole (its lines do not end at a newline byte, so
    they cannot be read from an offset), as the format of its first JSON value."""
    text = head[:len(head) // 2 * 2].decode("utf-16", errors="replace")
    value = None
    for candidate in (next((line for line in split_lines(text) if line.strip()), ""), text):
        try:
            value = json.loads(candidate)
            break
        except ValueError:
            continue
    if isinstance(value, list):
        value = value[0] if value else None
    return f"whole-{classify(value) or 'jsonl'}"
