"""The import dialog's look at a table before it is imported: its column names (a
CSV/TSV header, the keys of a JSON Lines file's objects), read as the importer reads them,
for the dialog's column mapping; and whether a source is such a table at all."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from crisisdesk.core.importers.crisismmd import is_crisismmd_file
from crisisdesk.core.importers.job import detect_format
from crisisdesk.core.importers.tabular import table_delimiter
from crisisdesk.core.importers.textio import decode_text

HEADER_BYTES = 256 * 1024  # enough for a header row or a first JSON object


def read_columns(path: Path) -> list[str]:
    """The column names of a CSV/TSV file, or the keys of the objects at the start of a
    JSON Lines file or a .json list."""
    with path.open("rb") as handle:
        data = handle.read(HEADER_BYTES + 1)
    truncated = len(data) > HEADER_BYTES
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        head = data[:HEADER_BYTES].decode("utf-8-sig", errors="replace")
        return json_keys(head, as_list=suffix == ".json" and head.lstrip().startswith("["),
                         truncated=truncated)
    # Decoded and split as the importer does (decode_text, table_delimiter): a European
    # Excel's ';' sheet, its sep=; line or its UTF-16 "Unicode Text" offered one column
    # named "id;text;image", or "sep=;", or garbage, to map.
    head, _warning = decode_text(data[:HEADER_BYTES])
    head, delimiter = table_delimiter(head, "\t" if suffix == ".tsv" else ",")
    return next(csv.reader(io.StringIO(head, newline=""), dialect="excel",
                           delimiter=delimiter), [])


def json_keys(head: str, *, as_list: bool, truncated: bool) -> list[str]:
    """The keys of the objects in ``head``, in the order first seen, read as the importer
    reads the file: one object a line, or (``as_list``) a JSON list over any lines. The
    importer maps a key any object has (a tweet without media has no media key), so
    every object read counts, not only the first; ``truncated``: ``head`` stops short."""
    objects: list[object] = []
    if as_list:
        decoder, pos = json.JSONDecoder(), head.index("[") + 1
        while True:
            while pos < len(head) and head[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(head) or head[pos] == "]":
                break
            try:
                obj, pos = decoder.raw_decode(head, pos)
            except json.JSONDecodeError:
                if objects or truncated:
                    break  # cut off mid-object: the objects before it say enough
                raise
            objects.append(obj)
    else:
        lines = head.splitlines()
        for line in lines[:-1] if truncated else lines:  # the last line may be cut off
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the importer skips (and reports) such a line too
    keys: dict[str, None] = {}
    for obj in objects:
        if isinstance(obj, dict):
            keys.update((str(key), None) for key in obj)
    return list(keys)


def tabular_source(path: Path, fmt: str) -> bool:
    """Whether ``path`` may be read as a table (its columns can be mapped) in format
    ``fmt``, told by its name alone (cheap, for the UI thread): detected, a JSON file may
    still be a collector's (:func:`mappable_columns` says)."""
    if fmt in ("csv", "jsonl"):
        return path.is_file()
    # A .tsv is a table too unless named like a CrisisMMD split (no columns were offered
    # for one: a sheet with odd headers ran to the import's error naming --map).
    return fmt == "auto" and not is_crisismmd_file(path) and \
        path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".ndjson", ".json")


def mappable_columns(path: Path, fmt: str) -> list[str] | None:
    """The columns of ``path`` to map (read in a background call: it reads the file), or
    None when format detection finds no table: a twarc or Bluesky file had "no id
    column", and the dialog refused to import it until one was picked."""
    if fmt == "auto" and detect_format(path) not in ("csv", "jsonl"):
        return None
    return read_columns(path)
